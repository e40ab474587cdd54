// Private to `collab tune` (train/tune.h): what the search loop (tune.cpp) and the blend of its
// trials (tune_blend.cpp) share, and the blend's two steps: choosing its members on the inner
// validation split, then training them on data.train and scoring them on data.valid.
#pragma once

#include <string>
#include <vector>

#include "collab/train/run.h"
#include "collab/train/tune.h"

namespace collab {

// Options for a quiet run into `run_dir` that continues what an interrupted run left there.
RunOptions continuing_run(const std::string& run_dir, const TuneHooks& hooks);

// PARENT/trial-NNNN: where trial `trial` (or its final run) trains.
std::string numbered_trial_dir(const std::string& parent, int64_t trial);

// Trial `t`'s configuration with the base's own split: a config `collab train` takes.
json trial_config_on_base_split(const TuneConfig& c, const RunConfig& base, const TrialResult& t);

// The blend of `trials` (each trial's last rung) chosen on the inner validation split the trials
// were ranked on (`inner_config` is their shared config), written to TUNE_DIR/blend.json and
// best_blend.json. Reads each trial's latest checkpoint; throws collab::Error when a trial's data
// is not that split (a space key under data.).
TuneBlendResult choose_tune_blend(const TuneConfig& c, const RunConfig& base,
                                  const json& inner_config, const std::vector<TrialResult>& trials,
                                  const std::string& tune_dir);

// Trains the blend's members on data.train (continuing what an interrupted tune left; the member
// that is `best_trial` reuses `best_final_dir`), blends them with the inner weights and scores
// the blend on data.valid into blend.final_test, rewriting blend.json. False when stopped.
bool test_tune_blend(const TuneConfig& c, const RunConfig& base, const std::string& tune_dir,
                     int64_t best_trial, const std::string& best_final_dir, const TuneHooks& hooks,
                     TuneBlendResult& blend);

}  // namespace collab
