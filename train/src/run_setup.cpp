#include "run_setup.h"

#include <algorithm>
#include <filesystem>
#include <thread>
#include <utility>

#include "collab/common/error.h"
#include "collab/common/text.h"
#include "collab/data/item_features.h"
#include "collab/train/run_checkpoints.h"
#include "collab/train/run_dir.h"
#include "resume_checks.h"

namespace collab {

namespace {

int64_t parameter_count(const CollabModelImpl& model) {
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

}  // namespace

RunSetup::RunSetup(const RunConfig& run_config, const Dataset& dataset, Ratings* owned,
                   const RunOptions& run_options, const torch::Device& run_device,
                   int64_t thread_count)
    : run(run_config),
      data(dataset),
      owned_train(owned),
      options(run_options),
      threads(thread_count),
      device(run_device),
      lead(!run_options.distributed || run_options.distributed->rank == 0) {
  if (options.write_run_dir || options.resume) fingerprint = data_fingerprint(data);
  if (options.resume) check_same_data(data, fingerprint, *options.resume);
  torch::manual_seed(run.train.seed);
  ConfigReader model_section(run.model, "model", nullptr);
  model = build_model_for(model_section, data);
  model->to(device);
}

RunStart RunSetup::start(const std::string& run_dir) const {
  RunStart start;
  start.model = model.get();
  start.parameters = parameter_count(*model);
  start.data = &data;
  start.train_ratings = data.train.size();
  start.device = device;
  start.threads = threads;
  start.run_dir = run_dir;
  start.distributed = options.distributed;
  start.resume = options.resume ? &*options.resume : nullptr;
  start.history = history();
  return start;
}

RunResult RunSetup::result() const {
  RunResult result;
  result.model = model;
  result.parameters = parameter_count(*model);
  result.device = device;
  result.lead = lead;
  result.last_checkpoint = options.resume ? options.resume->path : "";
  return result;
}

json RunSetup::history() const {
  return options.resume ? options.resume->checkpoint.metrics : json::array();
}

RunFiles RunSetup::open_files() const {
  if (!options.write_run_dir || !lead) return RunFiles();
  RunFiles files(*this, history());
  // Checkpoints an interrupted run wrote after the one resumed from belong to steps about to be
  // trained again.
  if (options.resume) {
    discard_checkpoints_after(files.run_dir(), options.resume->checkpoint.state.global_step);
  }
  return files;
}

int64_t apply_thread_policy(const TrainConfig& train, const std::optional<DistributedEnv>& dist) {
  // Workers sharing a machine share its cores (torchrun sets OMP_NUM_THREADS for the same reason).
  const int64_t cores = static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  const int64_t threads =
      train.threads > 0 ? train.threads
                        : std::max<int64_t>(1, cores / (dist ? dist->local_world_size : 1));
  torch::set_num_threads(static_cast<int>(threads));
  return threads;
}

EpochMonitor RunSetup::monitor() const {
  // A best checkpoint needs a run dir to be kept in.
  EpochMonitor monitor(options.write_run_dir ? run.checkpoint.best : "", run.train.early_stopping);
  monitor.replay(history());
  return monitor;
}

FitHooks RunSetup::fit_hooks(RunFiles& files, EpochMonitor& monitor, RunResult& result,
                             std::function<TrainerState()> state) const {
  FitHooks hooks;
  const auto& caller_stop = options.hooks.stop_requested;
  hooks.stop_requested = [&monitor, caller_stop] {
    return monitor.stopped() || (caller_stop && caller_stop());
  };
  // Only the lead process evaluates: the other ranks' metrics are zeros, and they stop when the
  // lead does (a stop is agreed over all ranks).
  if (!lead) return hooks;
  hooks.on_epoch = [this, &files, &monitor, &result, state](const EpochMetrics& m) {
    if (files.active()) files.log_epoch(m);
    if (options.hooks.on_epoch) options.hooks.on_epoch(m);
    const EpochMonitor::Verdict verdict = monitor.observe(epoch_json(m));
    if (verdict.best && files.active()) result.best_checkpoint = files.save_best(state());
  };
  if (files.active()) {
    hooks.checkpoint = run.checkpoint;
    hooks.on_checkpoint = [&files, &result](const TrainerState& s) {
      try {
        result.last_checkpoint = files.save_checkpoint(s);
      } catch (const Error& e) {
        throw Error(std::string(e.what()) + "; " +
                    kept_checkpoint(result.last_checkpoint, files.run_dir(), true));
      }
    };
  }
  return hooks;
}

void RunSetup::finish(const EpochMonitor& monitor, RunResult& result) const {
  if (monitor.stopped() && result.epoch < run.train.epochs) {
    result.early_stop = monitor.stop_reason();
    result.stopped = false;  // the run is complete, not interrupted
  }
  if (monitor.best() && monitor.best()->best()) {
    result.best_metric = monitor.best()->metric();
    result.best_value = *monitor.best()->best();
    result.best_epoch = monitor.best()->best_epoch();
    // A resumed run whose best epoch came before the resume point kept its file.
    if (result.best_checkpoint.empty() && !result.run_dir.empty() &&
        std::filesystem::exists(best_checkpoint_path(result.run_dir))) {
      result.best_checkpoint = best_checkpoint_path(result.run_dir);
    }
  }
}

std::string kept_checkpoint(const std::string& last_saved, const std::string& run_dir,
                            bool resumable) {
  if (last_saved.empty()) return "no checkpoint of this run had been written yet";
  return resumable ? "the previous checkpoint " + last_saved + " is intact (collab resume " +
                         shell_quoted(run_dir) + " continues from it)"
                   : "the last good checkpoint, " + last_saved + ", is kept";
}

RunFiles::RunFiles(const RunSetup& setup, json history)
    : setup_(&setup),
      run_dir_(prepare_run_dir(setup.options.run_dir, setup.model->arch())),
      lock_(RunDirLock::acquire(run_dir_)),
      metrics_path_(run_dir_ + "/metrics.jsonl"),
      history_(std::move(history)) {
  // A resumed run keeps its identity; a new run (or one resumed from a checkpoint of an older
  // collab, which has none) gets its own.
  const ResumePoint* resume = setup.options.resume ? &*setup.options.resume : nullptr;
  run_id_ = resume && !resume->checkpoint.run_id.empty() ? resume->checkpoint.run_id : new_run_id();
  write_run_id(run_dir_, run_id_);
  write_json_atomically(run_dir_ + "/config.json", setup.run.resolved);
  std::string lines;
  for (const auto& m : history_) lines += json_text(m) + "\n";
  write_file_atomically(metrics_path_, lines);
}

void RunFiles::log_epoch(const EpochMetrics& m) {
  const json line = epoch_json(m);
  history_.push_back(line);
  append_json_line(metrics_path_, line);
}

Checkpoint RunFiles::checkpoint(TrainerState state) const {
  Checkpoint c;
  c.config = setup_->run.resolved;
  c.state = std::move(state);
  c.users = setup_->data.users;
  c.items = setup_->data.items;
  c.data_fingerprint = setup_->fingerprint;
  c.metrics = history_;
  c.run_id = run_id_;
  if (setup_->model->uses_item_features() && !setup_->data.catalog.empty()) {
    c.item_feature_names = ItemFeatureSchema::of(setup_->data.catalog).names();
  }
  return c;
}

std::string RunFiles::save_checkpoint(TrainerState state) {
  return collab::save_checkpoint(run_dir_, checkpoint(std::move(state)),
                                 setup_->run.checkpoint.keep_last);
}

std::string RunFiles::save_best(TrainerState state) {
  return save_best_checkpoint(run_dir_, checkpoint(std::move(state)));
}

}  // namespace collab
