// The training-run entry point (run.h): setup shared by every path, then the dense path through
// Trainer (autograd, a fused step, or a data-parallel rank). The sparse path is run_sparse.cpp.
#include "collab/train/run.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include "collab/common/error.h"
#include "collab/common/text.h"
#include "collab/data/fetch.h"
#include "collab/data/item_features.h"
#include "collab/models/registry.h"
#include "collab/train/device.h"
#include "collab/train/run_checkpoints.h"
#include "collab/train/run_dir.h"
#include "resume_checks.h"
#include "run_setup.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

// Refusals that need no data, before anything slow.
void check_before_data(const RunConfig& run, const RunOptions& options) {
  if (options.resume) check_same_run(run, *options.resume);
  // Every rank checks before any has connected, so rank 0 has written nothing yet.
  if (options.write_run_dir && !options.resume && !options.run_dir.empty() &&
      has_checkpoints(options.run_dir)) {
    throw Error(options.run_dir + " already holds the checkpoints of a run: continue it with " +
                "--resume (or collab resume), or train into another --run-dir");
  }
}

RunStart dense_start(const RunSetup& setup, const Trainer& trainer, const std::string& run_dir) {
  RunStart start = setup.start(run_dir);
  start.steps_per_epoch = trainer.steps_per_epoch();
  start.total_steps = setup.run.train.epochs * trainer.steps_per_epoch();
  return start;
}

// Trains through Trainer: autograd or a fused step, alone or as one rank of a data-parallel run.
RunResult run_dense(const RunSetup& setup) {
  const RunConfig& run = setup.run;
  const RunOptions& options = setup.options;
  const ResumePoint* resume = options.resume ? &*options.resume : nullptr;
  Trainer trainer(setup.model, setup.data, run.train, setup.device);
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
  if (options.hooks.on_start) options.hooks.on_start(dense_start(setup, trainer, files.run_dir()));

  EpochMonitor monitor = setup.monitor();
  const FitHooks hooks =
      setup.fit_hooks(files, monitor, result, [&trainer] { return trainer.state(); });
  try {
    // A resumed run that early stopping had already ended trains nothing more.
    if (!monitor.stopped()) result.epochs = trainer.fit(hooks);
  } catch (const TrainingDiverged& e) {
    throw Error(std::string(e.what()) + "; " +
                kept_checkpoint(result.last_checkpoint, files.run_dir(), false));
  }
  result.stopped = trainer.stopped();
  result.epoch = trainer.epoch();
  result.global_step = trainer.global_step();
  result.total_steps = run.train.epochs * trainer.steps_per_epoch();
  setup.finish(monitor, result);
  if (result.lead && !result.stopped) result.final_metrics = trainer.evaluate();
  if (collective) result.bytes_sent = collective->bytes_sent();
  return result;
}

RunResult run_loaded(const RunConfig& run, const Dataset& data, Ratings* owned_train,
                     const RunOptions& options, const torch::Device& device, int64_t threads) {
  const RunSetup setup(run, data, owned_train, options, device, threads);
  return run.train.sparse() ? run_sparse(setup) : run_dense(setup);
}

}  // namespace

CollabModel build_model_for(ConfigReader& model, const Dataset& data) {
  const int64_t n_items = data.items.size();
  ModelShape shape(data.users.size(), n_items,
                   data.catalog.empty() ? torch::Tensor()
                                        : item_feature_matrix(data.catalog,
                                                              ItemFeatureSchema::of(data.catalog),
                                                              n_items));
  shape.train = &data.train;
  CollabModel built = build_model(model, shape);
  if (built->uses_item_features() && data.catalog.empty()) {
    throw Error("model.arch \"" + built->arch() +
                "\" scores items by their genres and release decade: the data section needs "
                "\"items\" (an item catalogue: u.item, movies.dat, movies.csv or a CSV with "
                "data.items_format \"csv\")");
  }
  return built;
}

ResumePoint latest_resume_point(const std::string& run_dir) {
  ResumePoint point;
  // A missing dir has no checkpoint to lock: latest_checkpoint says so.
  if (fs::is_directory(run_dir)) point.lock = RunDirLock::acquire(run_dir);
  point.path = latest_checkpoint(run_dir);
  point.checkpoint = read_checkpoint(point.path);
  const std::string run_id = read_run_id(run_dir);
  if (!run_id.empty() && point.checkpoint.run_id != run_id) {
    throw Error(point.path + ": a checkpoint of another run (its run id is " +
                (point.checkpoint.run_id.empty() ? std::string("missing")
                                                 : "\"" + point.checkpoint.run_id + "\"") +
                ", " + run_dir + "/run.json says \"" + run_id +
                "\"): collab resumes a run only from its own checkpoints");
  }
  return point;
}

json epoch_json(const EpochMetrics& m) {
  return {{"epoch", m.epoch},
          {"train_loss", m.train_loss},
          {"train_loss_mean", m.train_loss_mean},
          {"valid_mse", m.valid.mse},
          {"valid_rmse", m.valid.rmse},
          {"valid_mae", m.valid.mae},
          {"seconds", m.seconds}};
}

// The run dir's lock for the whole run when the dir is named and exists (a new dir is locked once
// created, by RunFiles): a second writer is refused before it reads any data.
std::shared_ptr<const RunDirLock> lock_named_run_dir(const RunOptions& options) {
  const bool lead = !options.distributed || options.distributed->rank == 0;
  if (!options.write_run_dir || !lead || options.run_dir.empty() ||
      !fs::is_directory(options.run_dir)) {
    return nullptr;
  }
  return RunDirLock::acquire(options.run_dir);
}

RunResult run_training(const RunConfig& run, const RunOptions& options) {
  const auto lock = lock_named_run_dir(options);
  check_before_data(run, options);
  const torch::Device device = resolve_device(run.train.device);
  const int64_t threads = apply_thread_policy(run.train, options.distributed);
  if (!run.data.dataset.empty()) ensure_dataset(run.data.dataset, run.data.dir, options.quiet);
  Dataset data = load_dataset(run.data);
  if (options.hooks.on_data) options.hooks.on_data(data);
  return run_loaded(run, data, &data.train, options, device, threads);
}

RunResult run_training(const RunConfig& run, const Dataset& data, const RunOptions& options) {
  const auto lock = lock_named_run_dir(options);
  check_before_data(run, options);
  const torch::Device device = resolve_device(run.train.device);
  const int64_t threads = apply_thread_policy(run.train, options.distributed);
  return run_loaded(run, data, /*owned_train=*/nullptr, options, device, threads);
}

}  // namespace collab
