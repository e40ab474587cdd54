// Private to the training-run entry point (run.h): what every path of a run shares once its data
// is read (device, model, data fingerprint) and the run dir it writes, so that the dense path
// (run.cpp) and the sparse path (run_sparse.cpp) set up and log the same way.
#pragma once

#include <cstdint>
#include <string>

#include "collab/train/epoch_monitor.h"
#include "collab/train/run.h"

namespace collab {

class RunSetup;

// The run dir's files as a run writes them: config.json once, metrics.jsonl a line per epoch,
// checkpoints carrying the config, vocabularies, data fingerprint and history. Inactive (writes
// nothing, run_dir() "") for runs that keep no files and for ranks other than 0.
class RunFiles {
 public:
  // Creates the run dir and writes config.json and metrics.jsonl (holding `history`).
  RunFiles(const RunSetup& setup, json history);
  RunFiles() = default;

  bool active() const { return setup_ != nullptr; }
  const std::string& run_dir() const { return run_dir_; }
  // Appends the epoch to metrics.jsonl and to the history later checkpoints carry.
  void log_epoch(const EpochMetrics& m);
  // Writes `state` as the run's newest checkpoint; returns its path.
  std::string save_checkpoint(TrainerState state);
  // Writes `state` as the run's best checkpoint (checkpoint.best); returns its path.
  std::string save_best(TrainerState state);

 private:
  Checkpoint checkpoint(TrainerState state) const;

  const RunSetup* setup_ = nullptr;
  std::string run_dir_;
  std::shared_ptr<const RunDirLock> lock_;
  std::string run_id_;
  std::string metrics_path_;
  json history_ = json::array();
};

class RunSetup {
 public:
  // Fingerprints the data when a checkpoint will need it (refusing a resume
  // onto other data), seeds torch's generator with train.seed and builds the model on the device.
  // `owned_train`, when given, is data.train itself, which the sparse path may take over.
  RunSetup(const RunConfig& run, const Dataset& data, Ratings* owned_train,
           const RunOptions& options, const torch::Device& device, int64_t threads);

  // The header fields every path fills the same way.
  RunStart start(const std::string& run_dir) const;
  // A result holding the model (and, resuming, the checkpoint resumed from), before training.
  RunResult result() const;
  // The metrics of the epochs already trained: a resumed run's are its checkpoint's history
  // (lines an interrupted run appended after its last checkpoint belong to epochs about to be
  // trained again); none for a new run.
  json history() const;
  // The run dir's files, holding history(): active when the options ask for them and this is the
  // lead process. Resuming, checkpoints past the one resumed from are deleted.
  RunFiles open_files() const;
  // checkpoint.best and train.early_stopping's watcher, with the epochs already trained replayed.
  EpochMonitor monitor() const;
  // The hooks both paths give their trainer: each epoch logged to `files`, shown to the caller
  // and judged by `monitor` (a new best epoch's checkpoint taken from `state`, the trainer's,
  // called only then); checkpoints written to `files`; a stop when the caller asks or early
  // stopping says so. `result` receives the newest and best checkpoints' paths.
  FitHooks fit_hooks(RunFiles& files, EpochMonitor& monitor, RunResult& result,
                     std::function<TrainerState()> state) const;
  // After training: early stopping's reason and the best epoch into `result`.
  void finish(const EpochMonitor& monitor, RunResult& result) const;

  const RunConfig& run;
  const Dataset& data;
  Ratings* owned_train;
  const RunOptions& options;
  const int64_t threads;
  const torch::Device device;
  const bool lead;  // rank 0, or a single process: evaluates, prints and writes
  std::string fingerprint;  // data_fingerprint(data) when checkpoints need it, else ""
  CollabModel model;
};

// Sets LibTorch's intra-op threads: train.threads, or the machine's cores shared among the
// workers of a data-parallel run on it. Returns the count.
int64_t apply_thread_policy(const TrainConfig& train, const std::optional<DistributedEnv>& dist);

// The message that ends a failed checkpoint write or a diverged run: which checkpoint is the
// state to continue from.
std::string kept_checkpoint(const std::string& last_saved, const std::string& run_dir,
                            bool resumable);

// The sparse path (train.optimizer "sgd" / "sparse_adam") through SparseTrainer.
RunResult run_sparse(const RunSetup& setup);

}  // namespace collab
