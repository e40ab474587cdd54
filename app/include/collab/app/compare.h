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
#pragma once

#include <string>
#include <vector>

#include "collab/app/run_config.h"
#include "collab/data/protocol.h"
#include "collab/infer/ranking_metrics.h"

namespace collab {

struct CompareCandidate {
  std::string name;
  RunConfig run;
};

struct CompareConfig {
  std::string path;
  DataConfig data;  // the shared data section
  ProtocolConfig protocol;
  RankingOptions ranking;
  std::vector<CompareCandidate> candidates;
  json resolved;  // as used: every default filled in, each candidate's full run config
};

// Reads and validates the whole comparison (every candidate's model against a 1x1 stand-in), so
// that a typo in the last candidate fails before the first one trains. Throws collab::Error
// naming the JSON path ("candidates[2] \"NN\": model.layers: ...").
CompareConfig load_compare_config(const std::string& path,
                                  const std::vector<std::string>& overrides);

}  // namespace collab
