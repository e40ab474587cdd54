// Private to the cold-start protocols (cold_start_eval.cpp for users, item_cold_start_eval.cpp
// for items): one seed's model, trained on the warm ratings as an ordinary run would train it.
#pragma once

#include <cstdint>

#include "collab/data/dataset.h"
#include "collab/train/run.h"
#include "collab/train/run_config.h"

namespace collab {

// `run` trained on `warm` with train.seed = seed, no run dir, quietly; the model on the CPU in
// eval mode, ready to be scored.
inline RunResult train_warm_model(const RunConfig& run, const Dataset& warm, uint64_t seed) {
  RunConfig seeded = run;
  seeded.train.seed = seed;
  RunOptions options;
  options.write_run_dir = false;
  options.quiet = true;
  RunResult trained = run_training(seeded, warm, options);
  trained.model->to(torch::kCPU);
  trained.model->eval();
  return trained;
}

}  // namespace collab
