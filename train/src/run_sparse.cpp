// The sparse path of a training run (train.optimizer "sgd" or "sparse_adam"): SparseTrainer over
// blocks of the ratings, logged, checkpointed, interrupted and resumed like the dense path (a
// round of the block grid is its step).
#include <memory>
#include <sstream>

#include <ATen/Parallel.h>

#include "run_setup.h"
#include "collab/train/sparse_train.h"

namespace collab {

namespace {

std::string sparse_note(const TrainConfig& train, const SparseTrainer& trainer) {
  std::ostringstream note;
  note << train.optimizer << ", " << trainer.grid().size << "x" << trainer.grid().size
       << " blocks (built in " << trainer.setup_seconds() << " s)";
  return note.str();
}

RunStart sparse_start(const RunSetup& setup, const SparseTrainer& trainer, size_t n_train,
                      const std::string& run_dir) {
  RunStart start = setup.start(run_dir);
  start.train_ratings = n_train;
  start.sparse_note = sparse_note(setup.run.train, trainer);
  start.steps_per_epoch = trainer.grid().size;
  start.total_steps = setup.run.train.epochs * trainer.grid().size;
  return start;
}

}  // namespace

RunResult run_sparse(const RunSetup& setup) {
  const RunConfig& run = setup.run;
  const RunOptions& options = setup.options;
  const ResumePoint* resume = options.resume ? &*options.resume : nullptr;
  const size_t n_train = setup.data.train.size();
  // A distributed run's default grid gives every rank's threads their blocks, as one process
  // with all the ranks' threads would have (the same B, so the same results).
  TrainConfig train_config = run.train;
  if (options.distributed && train_config.blocks == 0) {
    const int64_t threads = train_config.threads > 0 ? train_config.threads : at::get_num_threads();
    train_config.blocks = default_blocks(threads * options.distributed->world_size);
  }
  // Takes the training ratings over when the caller let it (they are sorted into blocks).
  SparseTrainer trainer(*setup.model,
                        setup.owned_train ? std::move(*setup.owned_train) : setup.data.train,
                        setup.data.valid, train_config);
  if (setup.owned_train) *setup.owned_train = Ratings();
  if (resume) {
    try {
      trainer.restore(resume->checkpoint.state);
    } catch (const Error& e) {
      throw Error("cannot resume from " + resume->path + ": " + e.what());
    }
  }
  // After the resume point is read: rank 0 may write checkpoints once all ranks have connected.
  std::unique_ptr<Collective> collective;
  if (options.distributed) {
    collective = Collective::connect(*options.distributed, run.train.distributed, setup.device);
    trainer.set_collective(collective.get());
  }
  RunResult result = setup.result();
  RunFiles files = setup.open_files();
  result.run_dir = files.run_dir();
  if (options.hooks.on_start) {
    options.hooks.on_start(sparse_start(setup, trainer, n_train, files.run_dir()));
  }
  EpochMonitor monitor = setup.monitor();
  const FitHooks hooks =
      setup.fit_hooks(files, monitor, result, [&trainer] { return trainer.state(); });
  // A resumed run that early stopping had already ended trains nothing more.
  if (!monitor.stopped()) result.epochs = trainer.fit(hooks);
  result.stopped = trainer.stopped();
  result.epoch = trainer.epoch();
  result.global_step = trainer.global_step();
  result.total_steps = run.train.epochs * trainer.grid().size;
  setup.finish(monitor, result);
  if (result.lead && !result.stopped) result.final_metrics = trainer.evaluate();
  if (collective) result.bytes_sent = collective->bytes_sent();
  result.train_seconds = trainer.train_seconds();
  result.train_cpu_seconds = trainer.train_cpu_seconds();
  result.rating_updates =
      static_cast<double>(n_train) * static_cast<double>(result.epochs.size());
  return result;
}

}  // namespace collab
