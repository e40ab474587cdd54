// One training run, whatever trains it: the single entry point behind `collab train`, `collab
// resume`, every compare candidate, the workers `collab launch` starts, and future commands. It
// owns the thread and seed policy, builds the model, picks the path (autograd or a fused step
// through Trainer, the sparse path through SparseTrainer, a data-parallel rank through
// Collective), checks that a resume continues the same run on the same data, and writes the run
// dir (config.json, metrics.jsonl, checkpoints). Callers print through the hooks; nothing here
// writes to stdout.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "collab/common/config_reader.h"
#include "collab/data/dataset.h"
#include "collab/infer/metrics.h"
#include "collab/models/collab_model.h"
#include "collab/train/checkpoint.h"
#include "collab/train/distributed.h"
#include "collab/train/run_config.h"
#include "collab/train/run_dir.h"
#include "collab/train/trainer.h"

namespace collab {

// A checkpoint to continue from.
struct ResumePoint {
  std::string path;  // the checkpoint file, for messages
  Checkpoint checkpoint;
  // The run dir's lock, held from reading the checkpoint to the resumed run's last write.
  std::shared_ptr<const RunDirLock> lock;
};

// The checkpoint `latest` names in `run_dir`, read and verified, with the run dir locked
// (RunDirLock). Refuses a checkpoint of another run (its run id is not the run dir's).
ResumePoint latest_resume_point(const std::string& run_dir);

// What a run tells its caller once everything is set up, before the first step: enough to print
// the run's header line.
struct RunStart {
  const CollabModelImpl* model = nullptr;
  int64_t parameters = 0;
  const Dataset* data = nullptr;
  size_t train_ratings = 0;  // before the sparse path takes them over
  torch::Device device{torch::kCPU};
  int64_t threads = 1;
  std::string run_dir;  // "" when the run writes none
  // The sparse path's optimizer and block grid ("sgd, 4x4 blocks (built in 0.01 s)"); "" else.
  std::string sparse_note;
  std::optional<DistributedEnv> distributed;
  const ResumePoint* resume = nullptr;
  int64_t steps_per_epoch = 0;
  int64_t total_steps = 0;
  json history = json::array();  // metrics of the epochs a resumed run has already trained
};

struct RunHooks {
  std::function<void(const Dataset&)> on_data;  // after the data is read, before the model
  std::function<void(const RunStart&)> on_start;
  std::function<void(const EpochMetrics&)> on_epoch;  // after each epoch's evaluation
  // Polled after every step (see FitHooks::stop_requested); none: never stops early.
  std::function<bool()> stop_requested;
};

struct RunOptions {
  // Where the run writes config.json, metrics.jsonl and checkpoints/: "" for
  // runs/<arch>-<time>. Ignored with write_run_dir false.
  std::string run_dir;
  // False for runs that leave no files (compare's candidates): no run dir, no checkpoints.
  bool write_run_dir = true;
  // Continue from this checkpoint (same model, batch size and data, or collab::Error saying why).
  std::optional<ResumePoint> resume;
  // A rank of a data-parallel run (distributed_env_from_environment()); only rank 0 writes.
  std::optional<DistributedEnv> distributed;
  bool quiet = false;  // fetching a missing dataset prints no progress
  RunHooks hooks;
};

struct RunResult {
  CollabModel model;  // trained, on `device`
  int64_t parameters = 0;  // the model's parameter count
  torch::Device device{torch::kCPU};
  std::vector<EpochMetrics> epochs;  // the epochs trained by this call
  std::optional<RatingMetrics> final_metrics;  // on the validation set; none when stopped
  bool lead = true;                            // rank 0, or a single process
  bool stopped = false;                        // stop_requested() ended it early
  int64_t epoch = 0;                           // epochs completed
  int64_t global_step = 0;
  int64_t total_steps = 0;
  std::string run_dir;          // "" when the run wrote none
  std::string last_checkpoint;  // the newest whole checkpoint on disk, "" if none
  // Why train.early_stopping ended the run before its last epoch ("valid_mse did not improve for
  // 2 epochs (best 0.81 at epoch 3)"); "" when it did not. Such a run is complete, not stopped.
  std::string early_stop;
  // checkpoint.best: the best epoch so far (-1: none), its metric's value, and the checkpoint
  // kept of it ("" without a run dir).
  std::string best_metric;
  double best_value = 0;
  int64_t best_epoch = -1;
  std::string best_checkpoint;
  // The sparse path's timings: seconds spent training (wall and CPU) and ratings trained.
  double train_seconds = 0;
  double train_cpu_seconds = 0;
  double rating_updates = 0;
  // Bytes this rank sent to the others (Collective::bytes_sent); 0 for one process.
  int64_t bytes_sent = 0;
};

// Reads run.data (fetching a named dataset first when it is missing), then trains it as below.
RunResult run_training(const RunConfig& run, const RunOptions& options);

// Trains `run`'s model on `data` (already split), which stays as it was (the sparse path then
// trains on a copy of the training ratings).
RunResult run_training(const RunConfig& run, const Dataset& data, const RunOptions& options);

// Builds the `model` section's architecture for `data`: the vocabularies' sizes and, when the data
// has an item catalogue, its items' features. Throws collab::Error when the architecture scores
// items by features but the data names no `data.items` file.
CollabModel build_model_for(ConfigReader& model, const Dataset& data);

// One epoch's metrics as a metrics.jsonl / compare.json object.
json epoch_json(const EpochMetrics& m);

}  // namespace collab
