// The `train` section of a config: fastai's recipe and its knobs.
//
//   "train": {"epochs": 5, "batch_size": 64, "lr_max": 5e-3, "weight_decay": 0.1, "seed": 42,
//             "threads": 0, "device": "cpu",
//             "pct_start": 0.25, "div": 25, "div_final": 1e5, "moms": [0.95, 0.85, 0.95],
//             "beta2": 0.99, "eps": 1e-5, "eval_batch_size": 8192, "fused": true,
//             "data_placement": "auto", "sync_every": 0,
//             "optimizer": "adam", "blocks": 0, "lr_schedule": "one_cycle",
//             "distributed": {"backend": "gloo", "timeout_s": 300},
//             "early_stopping": {"monitor": "valid_mse", "patience": 1, "min_delta": 0}}
#pragma once

#include <cstdint>
#include <string>

#include "collab/common/config_reader.h"
#include "collab/train/adam.h"
#include "collab/train/epoch_monitor.h"
#include "collab/train/one_cycle.h"

namespace collab {

// How ranks of a data-parallel run talk (train/distributed.h). Whether a run is distributed is
// decided by the environment (WORLD_SIZE > 1, as torchrun sets it), not by this section.
struct DistributedConfig {
  std::string backend = "gloo";  // "gloo" (CPU) or "nccl" (CUDA builds)
  // Rendezvous and every collective give up after this long: a worker that died or hangs makes
  // the others fail with an error instead of waiting forever.
  int64_t timeout_s = 300;
};

struct TrainConfig {
  int64_t epochs = 5;
  int64_t batch_size = 64;
  uint64_t seed = 42;          // model init and the order of batches
  int64_t threads = 0;         // intra-op threads; 0: one per core (Trainer::fit: one for
                               // the steps of a small model trained by autograd)
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N", "auto"
  int64_t eval_batch_size = 8192;
  // Train DotProduct/DotProductBias and plain CollabNN on the CPU with a fused step
  // (train/fused_step.h) rather than autograd: the same recipe, many times faster. false forces
  // the autograd reference path.
  bool fused = true;
  // Where the training ratings live when training on a GPU: "device" (uploaded once), "staged"
  // (pinned host memory, each batch copied over without blocking) or "auto" (the device when
  // they take at most kDeviceDataLimitBytes there). Ignored on the CPU.
  std::string data_placement = "auto";
  // Read the training loss back to the host every this many steps (for the table, the NaN check
  // and the train loss); 0: every step on the CPU, every 100 on a GPU, where each read waits for
  // the device to finish its queued work.
  int64_t sync_every = 0;
  // "adam": the exact recipe (dense fastai Adam over every parameter each step). "sgd" and
  // "sparse_adam": the sparse fast path (train/sparse_train.h), DotProduct/DotProductBias only.
  std::string optimizer = "adam";
  // Sparse path: the B of its B x B block grid; 0 picks default_blocks(threads).
  int64_t blocks = 0;
  // Sparse path: "one_cycle" (lr and beta1 as the recipe, stepped per block round) or
  // "constant" (lr_max throughout, beta1 = moms[0]).
  std::string lr_schedule = "one_cycle";
  bool sparse() const { return optimizer != "adam"; }
  OneCycleOptions one_cycle;  // lr_max lives here
  AdamOptions adam;           // weight_decay lives here
  DistributedConfig distributed;
  // Off unless the section is given (train/epoch_monitor.h). With the one-cycle schedule, a run
  // stopped early ends before its lr has annealed, as in fastai.
  EarlyStoppingConfig early_stopping;
};

TrainConfig read_train_config(ConfigReader& reader);

}  // namespace collab
