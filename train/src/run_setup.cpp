#include "run_setup.h"

#include <utility>

#include "collab/common/error.h"
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

std::string RunFiles::save_checkpoint(TrainerState state) {
  Checkpoint c;
  c.config = setup_->run.resolved;
  c.state = std::move(state);
  c.users = setup_->data.users;
  c.items = setup_->data.items;
  c.data_fingerprint = setup_->fingerprint;
  c.metrics = history_;
  c.run_id = run_id_;
  return collab::save_checkpoint(run_dir_, c, setup_->run.checkpoint.keep_last);
}

}  // namespace collab
