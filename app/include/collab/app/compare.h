// `collab compare`: trains several candidate models on the same splits of one dataset and
// reports rating and top-N metrics side by side. A compare config has a shared `data` section,
// an `eval` section (the protocol: data/protocol.h, plus the top-N cut-off and relevance
// threshold), an optional shared `train` section and the `candidates`:
//
//   {"data": {"dataset": "ml-100k"},
//    "eval": {"protocol": "predefined_kfold", "folds": 5, "k": 10, "relevance_threshold": 4},
//    "train": {"threads": 2},
//    "candidates": [
//      {"name": "DotProductBias", "model": {"arch": "DotProductBias", "y_range": [0, 5.5]},
//       "train": {"weight_decay": 0.1}},
//      {"config": "dot_product.json", "train": {"epochs": 3}}]}
//
// Each candidate becomes an ordinary run config ({data, model, train}) read by the same code as
// `collab train` (run_config_from_json), so a candidate trained on a fold gives the numbers
// `collab train` gives on that split with that config. A candidate's `train` is its `config`
// file's, overridden by the shared `train`, overridden by its own `train`; its `model` is the
// file's, overridden key by key by its own `model`. The file's data section is replaced by the
// shared one (every candidate sees the same splits) and its checkpoint section is ignored.
//
// An optional `"blend": {"inner_valid_pct": 0.1, "seed": 42, "ridge": 1e-4}` adds a row
// "Blend": on each split, every candidate is trained again on a random inner split of the
// training part, a linear blend of their predictions (infer/blend.h) is fitted on the inner
// validation ratings, and the blend of the candidates' full models is scored on the test part
// like any candidate; the test part is never seen by the fit. `"features": ["user_support",
// "item_support"]` lets the weights vary with each rating's user and item support (infer/blend.h).
// Each split records the blend's inner RMSEs (fitted, and cross-validated over the inner ratings
// with and without the features): what a choice of blend is to be made on.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "collab/train/run_config.h"
#include "collab/data/dataset.h"
#include "collab/data/protocol.h"
#include "collab/infer/blend.h"
#include "collab/infer/metrics.h"
#include "collab/infer/ranking_metrics.h"
#include "collab/train/trainer.h"

namespace collab {

struct CompareCandidate {
  std::string name;
  RunConfig run;
};

struct BlendOptions {
  double inner_valid_pct = 0.1;  // of each split's training ratings, to fit the weights on
  uint64_t seed = 42;            // of that inner random split
  double ridge = 1e-4;           // times the inner ratings, on the weights' diagonal
  // Meta-features the weights vary with (infer/blend.h); none keeps one weight per model.
  std::vector<BlendFeature> features;
};

struct CompareConfig {
  std::string path;
  DataConfig data;  // the shared data section
  ProtocolConfig protocol;
  RankingOptions ranking;
  std::vector<CompareCandidate> candidates;
  std::optional<BlendOptions> blend;
  json resolved;  // as used: every default filled in, each candidate's full run config
};

// Reads and validates the whole comparison (every candidate's model against a 1x1 stand-in), so
// that a typo in the last candidate fails before the first one trains. Throws collab::Error
// naming the JSON path ("candidates[2] \"NN\": model.layers: ...").
CompareConfig load_compare_config(const std::string& path,
                                  const std::vector<std::string>& overrides);

// What one candidate scored on one split, and on all of them.
struct FoldResult {
  std::string fold;
  int64_t parameters = 0;
  std::vector<EpochMetrics> epochs;
  RatingMetrics rating;
  RankingMetrics ranking;
  CollabModel model;  // the trained model, kept only while a blend needs it
  json blend;         // the blend's row: its weights and intercept on this split
};

struct CandidateResult {
  std::string name;
  std::string arch;
  std::vector<FoldResult> folds;
};

// The blend's row (compare_blend.cpp): split f is `data[f]`, named `fold_names[f]`; `results`
// hold every candidate's models; `line` is told one line per split.
CandidateResult blend_candidates(const CompareConfig& config,
                                 const std::vector<std::string>& fold_names,
                                 const std::vector<Dataset>& data,
                                 const std::vector<CandidateResult>& results,
                                 const std::function<void(const std::string&)>& line);

// The reports (compare_report.cpp), each from the config and the results so far.
std::string protocol_text(const CompareConfig& config);
json results_json(const CompareConfig& config, const std::vector<CandidateResult>& results);
std::string results_csv(const CompareConfig& config, const std::vector<CandidateResult>& results);
std::string results_markdown(const CompareConfig& config,
                             const std::vector<CandidateResult>& results);
// The summary (mean ± sd of each metric per candidate) as an aligned text table.
std::string summary_table(const std::vector<CandidateResult>& results, int64_t k);
std::string learning_curves_svg(const CompareConfig& config,
                                const std::vector<CandidateResult>& results);
std::string final_metrics_svg(const CompareConfig& config,
                              const std::vector<CandidateResult>& results);

}  // namespace collab
