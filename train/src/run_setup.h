// Private to the training-run entry point (run.h): what every path of a run shares once its data
// is read (device, model, data fingerprint) and the run dir it writes, so that the dense path
// (run.cpp) and the sparse path (run_sparse.cpp) set up and log the same way.
#pragma once

#include <cstdint>
#include <string>

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

 private:
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

// The sparse path (train.optimizer "sgd" / "sparse_adam") through SparseTrainer.
RunResult run_sparse(const RunSetup& setup);

}  // namespace collab
