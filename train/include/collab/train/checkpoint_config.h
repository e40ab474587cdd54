// The `checkpoint` section of a config: how often a run saves a checkpoint it can resume from,
// and how many it keeps.
//
//   "checkpoint": {"every_epochs": 1, "every_steps": 0, "keep_last": 3, "best": "valid_rmse"}
#pragma once

#include <cstdint>
#include <string>

#include "collab/common/config_reader.h"

namespace collab {

struct CheckpointConfig {
  int64_t every_epochs = 1;  // at the end of every N-th epoch; 0: never at epoch ends
  int64_t every_steps = 0;   // every N optimizer steps, also mid-epoch; 0: never by steps
  int64_t keep_last = 3;     // checkpoints kept in the run dir; 0: all
  // A metric of metrics.jsonl (train/epoch_monitor.h): the checkpoint of the epoch where it was
  // lowest is kept as checkpoints/best.ckpt, as fastai's SaveModelCallback keeps the best model.
  // "": none. Independent of the periods above.
  std::string best;

  // With both periods 0 a run writes no checkpoint at all (not even a final one).
  bool enabled() const { return every_epochs > 0 || every_steps > 0; }
};

CheckpointConfig read_checkpoint_config(ConfigReader& reader);

}  // namespace collab
