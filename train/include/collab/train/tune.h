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
#include "collab/infer/metrics.h"
#include "collab/train/search_space.h"
#include "collab/train/trainer.h"

namespace collab {

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

struct TuneResult {
  std::vector<TrialResult> trials;  // every finished trial and rung, in order
  std::optional<TrialResult> best;  // the best of the last rung reached
  bool stopped = false;             // interrupted: run again to continue
  bool budget_spent = false;
  std::string best_config;          // its path; "" when no trial finished
  std::optional<RatingMetrics> final_test;  // data.valid's metrics of the final run
  std::string final_run_dir;
};

TuneResult run_tune(const TuneConfig& config, const std::string& tune_dir,
                    const TuneHooks& hooks = {});

// One trial as results.jsonl and results.json hold it.
json trial_result_json(const TrialResult& trial);

// The reports of `trials` into `tune_dir` (results.csv/.md/.json, plots/), rewritten atomically.
void write_tune_reports(const TuneConfig& config, const std::vector<TrialResult>& trials,
                        const std::string& tune_dir);

}  // namespace collab
