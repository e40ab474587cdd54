// `collab tune`: hyper-parameter search over any config keys, each trial an ordinary run dir.
//
//   {"base": "../configs/dot_product_bias.json",   // a config file (or the config itself)
//    "metric": "valid_rmse", "search": "random", "trials": 20, "minutes": 0, "seed": 1,
//    "inner_valid_pct": 0.2, "halving": {"min_epochs": 1, "eta": 3}, "final": true,
//    "space": {"train.lr_max": {"log_uniform": [1e-3, 3e-2]}, ...}}   (train/search_space.h)
//
// The base config must hold out its test ratings as a predefined split (data.train and
// data.valid, e.g. u1.base and u1.test). Trials never read data.valid: each trains on data.train
// split again (inner_valid_pct, split_seed = seed) and is ranked by its metric on that inner
// validation part. Once the search ends, the best configuration is written as best_config.json
// (a config `collab train` takes, with the base's own split) and, with "final", trained on
// data.train and evaluated on data.valid, once, into TUNE_DIR/final.
//
// Searches: "random" (trials draws), "grid" (every combination, at most `trials` when > 0) and
// "halving" (successive halving: `trials` random configurations trained min_epochs epochs, the
// best 1/eta continued to eta times as many epochs, and so on up to the base's train.epochs;
// continuing recomputes the one-cycle schedule for the longer run, as `collab resume --epochs`).
// A budget of `minutes` (training time, summed over the tune dir's trials) starts no new trial
// once spent.
//
// With a "blend" section, {"max_models": 10, "ridge": 1e-2, "features": [], "cv_folds": 5,
// "min_gain": 1e-4}, the search is followed by a blend of its trials (tune_blend.cpp): every
// trial's model (its last rung) predicts the inner validation ratings, and greedy forward
// selection (infer/blend.h: select_blend) takes the trials whose least-squares blend has the
// lowest cross-validated RMSE on them (a trial whose run dir holds another model by now, trained
// on since, is left out and listed under "skipped"). The blend is written as blend.json (members,
// weights, inner RMSEs) and best_blend.json (a `collab compare` config holding the members as candidates
// and the blend section: it reproduces the blend on the base's split, or on other folds with
// --set eval.*). With "final", its members are trained on data.train (TUNE_DIR/final for the best
// trial, final-blend/trial-NNNN for the others), blended with the weights fitted on the inner
// split, and scored on data.valid in the same single reading as the best trial.
//
// TUNE_DIR holds tune.json (the resolved tune config), trials/trial-NNNN/ (run dirs),
// results.jsonl (a line per finished trial and rung), results.csv/.md/.json, plots/<key>.svg
// (the metric against each numeric parameter), best_config.json and final/. Interrupted
// (stop_requested) or killed, running the same tune again into the same dir continues it: done
// trials are read back, an interrupted one resumes from its checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "collab/common/config_reader.h"
#include "collab/infer/blend.h"
#include "collab/infer/metrics.h"
#include "collab/train/search_space.h"
#include "collab/train/trainer.h"

namespace collab {

// The tune config's "blend" section: how the trials are blended once the search ends.
struct TuneBlendConfig {
  int64_t max_models = 10;  // members at most
  double ridge = 1e-2;      // as compare's blend.ridge: times the inner ratings, on the weights
  std::vector<BlendFeature> features;  // meta-features the weights vary with (infer/blend.h)
  int64_t cv_folds = 5;     // folds of the inner validation ratings the selection scores on
  double min_gain = 1e-4;   // of cross-validated RMSE, for a further member to be taken
};

struct TuneConfig {
  json base;              // the base config, as JSON
  std::string base_path;  // the file it came from (its folder resolves relative paths)
  std::string metric = "valid_rmse";  // valid_mse, valid_rmse or valid_mae
  std::string search = "random";      // random, grid, halving
  int64_t trials = 20;                // 0 with grid: the whole grid
  double minutes = 0;                 // 0: no time budget
  uint64_t seed = 1;
  double inner_valid_pct = 0.2;
  int64_t min_epochs = 1;  // halving's first rung
  int64_t eta = 3;         // halving's reduction factor
  bool final = true;
  std::optional<SearchSpace> space;
  std::optional<TuneBlendConfig> blend;
  json resolved;  // as tune.json records it
};

// Reads a tune config file; errors name the file and the key.
TuneConfig load_tune_config(const std::string& path);

struct TrialResult {
  int64_t trial = 0;  // 1-based
  int64_t rung = 0;   // halving's rung; 0 otherwise
  int64_t epochs = 0;
  json values;        // the parameters drawn
  RatingMetrics valid;  // on the inner validation part
  double metric = 0;    // the tune metric of `valid`
  double seconds = 0;
  std::string run_dir;
};

struct TuneHooks {
  std::function<void(const TrialResult& planned)> on_trial_start;  // values, epochs, run_dir
  std::function<void(const EpochMetrics&)> on_epoch;
  std::function<void(const TrialResult&)> on_trial_end;  // also for trials read back
  std::function<bool()> stop_requested;
};

// The blend of trials a tune with a "blend" section chose.
struct TuneBlendResult {
  std::vector<TrialResult> members;  // in the order chosen
  std::vector<double> cv_rmse;       // the inner cross-validated RMSE after each choice
  BlendWeights weights;              // fitted on all the inner validation ratings
  // Trials left out because their run dir holds another model by now:
  // [{"trial", "recorded_rmse", "rmse"}].
  json skipped = json::array();
  double best_trial_rmse = 0;        // the best single trial's inner RMSE, for comparison
  std::string config;                // best_blend.json, a `collab compare` config
  std::optional<RatingMetrics> final_test;  // data.valid's metrics of the final blend
  std::vector<std::string> final_run_dirs;  // one per member
};

struct TuneResult {
  std::vector<TrialResult> trials;  // every finished trial and rung, in order
  std::optional<TrialResult> best;  // the best of the last rung reached
  bool stopped = false;             // interrupted: run again to continue
  bool budget_spent = false;
  std::string best_config;          // its path; "" when no trial finished
  std::optional<RatingMetrics> final_test;  // data.valid's metrics of the final run
  std::string final_run_dir;
  std::optional<TuneBlendResult> blend;  // with a "blend" section, once the search ended
};

TuneResult run_tune(const TuneConfig& config, const std::string& tune_dir,
                    const TuneHooks& hooks = {});

// One trial as results.jsonl and results.json hold it.
json trial_result_json(const TrialResult& trial);

// The reports of `trials` into `tune_dir` (results.csv/.md/.json, plots/), rewritten atomically.
void write_tune_reports(const TuneConfig& config, const std::vector<TrialResult>& trials,
                        const std::string& tune_dir);

}  // namespace collab
