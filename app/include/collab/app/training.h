// What `collab train` and `collab resume` share: one training run (train/run.h) with fastai's
// per-epoch table printed as it goes, the interruption message, and the exit code.
#pragma once

#include <optional>
#include <string>

#include "collab/train/run.h"
#include "collab/train/run_config.h"

namespace collab {

// Trains as `run` says into `run_dir` ("" for runs/<arch>-<time>), from `resume` when given;
// prints unless `quiet` (or this process is a rank other than 0) and returns the exit code:
// 0, or 128 + the signal that interrupted it.
int train_and_report(const RunConfig& run, const std::string& run_dir, bool quiet,
                     std::optional<ResumePoint> resume);

}  // namespace collab
