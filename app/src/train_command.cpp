// `collab train CONFIG [--set K=V]... [--run-dir DIR] [--resume]`: trains the configured model
// and prints a per-epoch table like fastai's. Also the training path `collab resume` shares
// (run_training), so a fresh run and a resumed one differ only in where they start.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <cxxopts.hpp>

#include "collab/app/checkpoints.h"
#include "collab/app/commands.h"
#include "collab/app/interrupt.h"
#include "collab/app/run_config.h"
#include "collab/app/run_dir.h"
#include "collab/app/training.h"
#include "collab/common/error.h"
#include "collab/data/dataset.h"
#include "collab/data/fetch.h"
#include "collab/data/item_features.h"
#include "collab/models/registry.h"
#include "collab/train/device.h"
#include "collab/train/distributed.h"
#include "collab/train/sparse_train.h"
#include "collab/train/trainer.h"

namespace collab {

namespace {

std::string format_time(double seconds) {
  const int s = static_cast<int>(seconds + 0.5);
  char text[16];
  std::snprintf(text, sizeof text, "%02d:%02d", s / 60, s % 60);
  return text;
}

json metrics_json(const EpochMetrics& m) {
  return {{"epoch", m.epoch},
          {"train_loss", m.train_loss},
          {"train_loss_mean", m.train_loss_mean},
          {"valid_mse", m.valid.mse},
          {"valid_rmse", m.valid.rmse},
          {"valid_mae", m.valid.mae},
          {"seconds", m.seconds}};
}

// One row of the epoch table, from a metrics.jsonl object (so rows of epochs trained before a
// resume print the same way).
void print_row(const json& m) {
  std::printf("%-7lld%-12.6f%-12.6f%-12.6f%s\n", static_cast<long long>(m.value("epoch", 0)),
              m.value("train_loss", 0.0), m.value("valid_mse", 0.0), m.value("valid_rmse", 0.0),
              format_time(m.value("seconds", 0.0)).c_str());
  std::fflush(stdout);
}

// The first key at which two `model` sections differ, as "model.key is A here but B there".
std::string first_difference(const json& given, const json& saved) {
  for (const json* side : {&given, &saved}) {
    for (auto it = side->begin(); it != side->end(); ++it) {
      const json a = given.value(it.key(), json()), b = saved.value(it.key(), json());
      if (a != b) {
        return "model." + it.key() + " is " + describe(a) + " in the config but " + describe(b) +
               " in the checkpoint";
      }
    }
  }
  return "the model sections differ";
}

// Refusals that need no data: another architecture or shape of model, or another batch size
// (the checkpoint's position within an epoch counts batches of its size).
void check_same_run(const RunConfig& run, const ResumePoint& resume) {
  const json& saved = resume.checkpoint.config;
  const json given_model = run.resolved.value("model", json::object());
  const json saved_model = saved.value("model", json::object());
  if (given_model != saved_model) {
    throw Error("cannot resume from " + resume.path + ": " +
                first_difference(given_model, saved_model) +
                " (a checkpoint continues only the model it was saved from)");
  }
  const json saved_optimizer =
      saved.value("train", json::object()).value("optimizer", json("adam"));
  if (saved_optimizer != json("adam") || run.train.sparse()) {
    throw Error("cannot resume from " + resume.path +
                ": runs of the sparse path (train.optimizer " +
                (saved_optimizer != json("adam") ? describe(saved_optimizer)
                                                 : "\"" + run.train.optimizer + "\"") +
                ") keep only their final model, not the state to continue from; start a new run");
  }
  const json saved_batch = saved.value("train", json::object()).value("batch_size", json());
  if (saved_batch != json(run.train.batch_size)) {
    throw Error("cannot resume from " + resume.path + ": train.batch_size is " +
                std::to_string(run.train.batch_size) + " in the config but " +
                describe(saved_batch) + " in the checkpoint (its position counts batches)");
  }
}

void check_same_data(const Dataset& data, const std::string& fingerprint,
                     const ResumePoint& resume) {
  const Checkpoint& c = resume.checkpoint;
  const std::string prefix = "cannot resume from " + resume.path + ": ";
  if (c.users.size() != data.users.size() || c.items.size() != data.items.size()) {
    throw Error(prefix + "the data has " + std::to_string(data.users.size()) + " users and " +
                std::to_string(data.items.size()) + " items but the checkpoint's vocabularies " +
                std::to_string(c.users.size()) + " users and " + std::to_string(c.items.size()) +
                " items (the data files changed since the run started)");
  }
  if (c.data_fingerprint != fingerprint) {
    throw Error(prefix + "the ratings differ from those the run was trained on (data fingerprint " +
                fingerprint.substr(0, 12) + " vs the checkpoint's " +
                c.data_fingerprint.substr(0, 12) + "; the data files changed since it started)");
  }
  for (const auto& [vocab, saved, what] :
       {std::tuple{&data.users, &c.users, "user"}, std::tuple{&data.items, &c.items, "item"}}) {
    for (int64_t i = 0; i < vocab->size(); ++i) {
      if (vocab->raw(i) != saved->raw(i)) {
        throw Error(prefix + what + " " + std::to_string(i) + " is \"" + vocab->raw(i) +
                    "\" in the data but \"" + saved->raw(i) +
                    "\" in the checkpoint (the data files changed since the run started)");
      }
    }
  }
}

// `text` quoted for a POSIX shell, for the resume command printed after an interruption (shown
// to the user, never run by collab).
std::string shell_quoted(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-./:=@+,") == std::string::npos) {
    return text;
  }
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// How the ratings files were read, when it is worth a line: a cache was involved or reading
// took a noticeable time.
void print_reads(const Dataset& data) {
  double seconds = 0;
  bool cached = false;
  for (const auto& r : data.reads) {
    seconds += r.seconds;
    cached = cached || !r.note.empty();
  }
  if (seconds < 1.0 && !cached) return;
  for (const auto& r : data.reads) {
    std::printf("read %s: %zu ratings in %.3f s (%s%s%s)\n", r.path.c_str(), r.ratings, r.seconds,
                r.from_cache ? "binary cache" : "text", r.note.empty() || r.from_cache ? "" : "; ",
                r.from_cache ? "" : r.note.c_str());
  }
  std::fflush(stdout);
}

// The sparse fast path (train.optimizer "sgd" or "sparse_adam"): trains with SparseTrainer,
// prints and logs the same epoch table and saves the final model as a checkpoint (without
// optimizer state: sparse runs are not resumable).
int run_sparse_training(const RunConfig& run, const std::string& requested_run_dir, bool quiet,
                        Dataset& data, CollabModel model, const std::string& fingerprint,
                        int64_t threads) {
  const size_t n_train = data.train.size();
  SparseTrainer trainer(*model, std::move(data.train), data.valid, run.train);
  data.train = Ratings();
  const std::string run_dir = prepare_run_dir(requested_run_dir, model->arch());
  write_json_atomically(run_dir + "/config.json", run.resolved);
  const std::string metrics_path = run_dir + "/metrics.jsonl";
  write_file_atomically(metrics_path, "");
  int64_t n_params = 0;
  for (const auto& p : model->parameters()) n_params += p.numel();
  if (!quiet) {
    std::cout << model->arch() << ": " << n_params << " parameters; " << data.users.size()
              << " users, " << data.items.size() << " items; " << n_train << " train / "
              << data.valid.size() << " valid ratings; cpu, " << threads << " thread(s); "
              << run.train.optimizer << ", " << trainer.grid().size << "x" << trainer.grid().size
              << " blocks (built in " << trainer.setup_seconds() << " s); run dir " << run_dir
              << "\n";
    std::printf("%-7s%-12s%-12s%-12s%s\n", "epoch", "train_loss", "valid_loss", "valid_rmse",
                "time");
  }
  json history = json::array();
  trainer.fit([&](const EpochMetrics& m) {
    const json line = metrics_json(m);
    history.push_back(line);
    append_json_line(metrics_path, line);
    if (!quiet) print_row(line);
  });
  if (run.checkpoint.enabled()) {
    Checkpoint c;
    c.config = run.resolved;
    TrainerState& s = c.state;
    s.global_step = run.train.epochs * trainer.grid().size;
    s.epoch = run.train.epochs;
    for (const auto& p : model->named_parameters())
      s.parameters.emplace_back(p.key(), p.value().detach());
    for (const auto& b : model->named_buffers())
      s.buffers.emplace_back(b.key(), b.value().detach());
    s.cpu_generator = at::detail::getDefaultCPUGenerator().get_state();
    s.order_generator = s.cpu_generator;
    c.users = data.users;
    c.items = data.items;
    c.data_fingerprint = fingerprint;
    c.metrics = history;
    save_checkpoint(run_dir, c, run.checkpoint.keep_last);
  }
  const RatingMetrics final_metrics = trainer.evaluate();
  std::printf("train_seconds %.4f rating_updates_per_s %.0f train_cpu_seconds %.4f\n",
              trainer.train_seconds(),
              static_cast<double>(n_train) * static_cast<double>(run.train.epochs) /
                  trainer.train_seconds(),
              trainer.train_cpu_seconds());
  std::printf("valid_mse %.6f valid_rmse %.6f valid_mae %.6f\n", final_metrics.mse,
              final_metrics.rmse, final_metrics.mae);
  return 0;
}

}  // namespace

CollabModel build_model_for(ConfigReader& model, const Dataset& data) {
  const int64_t n_items = data.items.size();
  ModelShape shape(
      data.users.size(), n_items,
      data.catalog.empty() ? torch::Tensor() : item_feature_matrix(data.catalog, n_items));
  CollabModel built = build_model(model, shape);
  if (built->uses_item_features() && data.catalog.empty()) {
    throw Error("model.arch \"" + built->arch() +
                "\" scores items by their genres and release decade: the data section needs "
                "\"items\" (a MovieLens u.item catalogue)");
  }
  return built;
}

ResumePoint latest_resume_point(const std::string& run_dir) {
  ResumePoint point;
  point.path = latest_checkpoint(run_dir);
  point.checkpoint = read_checkpoint(point.path);
  return point;
}

int run_training(const RunConfig& run, const std::string& requested_run_dir, bool quiet,
                 const std::optional<ResumePoint>& resume) {
  // Before anything slow: from here on SIGINT/SIGTERM stop training after the current step, with
  // a checkpoint, instead of killing the process. Sparse runs are not resumable: a signal ends
  // them as usual.
  if (!run.train.sparse()) install_interrupt_handlers();
  if (resume) check_same_run(run, *resume);
  // Every rank checks before any has connected, so rank 0 has written nothing yet.
  if (!resume && !requested_run_dir.empty() && has_checkpoints(requested_run_dir)) {
    throw Error(requested_run_dir + " already holds the checkpoints of a run: continue it with " +
                "--resume (or collab resume), or train into another --run-dir");
  }

  // A distributed run (WORLD_SIZE > 1 in the environment, as torchrun and collab launch set it):
  // only rank 0 prints, evaluates and writes the run dir and checkpoints.
  const std::optional<DistributedEnv> dist = distributed_env_from_environment();
  const bool lead = !dist || dist->rank == 0;
  if (!lead) quiet = true;

  const torch::Device device = resolve_device(run.train.device);
  // Workers sharing a machine share its cores (torchrun sets OMP_NUM_THREADS for the same reason).
  const int64_t cores = static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  const int64_t threads = run.train.threads > 0
                              ? run.train.threads
                              : std::max<int64_t>(1, cores / (dist ? dist->local_world_size : 1));
  torch::set_num_threads(static_cast<int>(threads));

  if (!run.data.dataset.empty()) ensure_dataset(run.data.dataset, run.data.dir, quiet);
  Dataset data = load_dataset(run.data);
  if (!quiet) print_reads(data);
  const std::string fingerprint = data_fingerprint(data);
  if (resume) check_same_data(data, fingerprint, *resume);

  torch::manual_seed(run.train.seed);
  ConfigReader model_section(run.model, "model", nullptr);
  CollabModel model = build_model_for(model_section, data);
  model->to(device);
  if (run.train.sparse() && dist) {
    throw Error("train.optimizer \"" + run.train.optimizer +
                "\": the sparse path trains in one process; distributed runs need \"adam\"");
  }
  if (run.train.sparse())
    return run_sparse_training(run, requested_run_dir, quiet, data, model, fingerprint, threads);

  Trainer trainer(model, data, run.train, device);
  if (resume) {
    try {
      trainer.restore(resume->checkpoint.state);
    } catch (const Error& e) {
      throw Error("cannot resume from " + resume->path + ": " + e.what());
    }
  }
  // After the resume point is read: rank 0 may write checkpoints once all ranks have connected.
  std::unique_ptr<Collective> collective;
  if (dist) {
    collective = Collective::connect(*dist, run.train.distributed, device);
    trainer.set_collective(collective.get());
  }

  // A resumed run's metrics are the checkpoint's history: lines an interrupted run appended
  // after its last checkpoint belong to epochs about to be trained again.
  json history = resume ? resume->checkpoint.metrics : json::array();
  std::string run_dir, metrics_path;
  if (lead) {
    run_dir = prepare_run_dir(requested_run_dir, model->arch());
    write_json_atomically(run_dir + "/config.json", run.resolved);
    metrics_path = run_dir + "/metrics.jsonl";
    std::string lines;
    for (const auto& m : history) lines += json_text(m) + "\n";
    write_file_atomically(metrics_path, lines);
    if (resume) discard_checkpoints_after(run_dir, resume->checkpoint.state.global_step);
  }

  int64_t n_params = 0;
  for (const auto& p : model->parameters()) n_params += p.numel();
  if (!quiet) {
    std::cout << model->arch() << ": " << n_params << " parameters; " << data.users.size()
              << " users, " << data.items.size() << " items; " << data.train.size() << " train / "
              << data.valid.size() << " valid ratings; " << device << ", " << threads
              << " thread(s); run dir " << run_dir << "\n";
    if (data.duplicate_ratings > 0) {
      std::cout << "note: " << data.duplicate_ratings
                << " ratings repeat a (user, item) pair rated before (the first: "
                << data.first_duplicate << "); each is kept as its own example, as fastai does\n";
    }
    if (data.valid_unseen_users + data.valid_unseen_items > 0) {
      std::cout << "note: " << data.valid_unseen_users << " validation ratings have a user and "
                << data.valid_unseen_items << " an item never seen in training\n";
    }
    if (dist) {
      const int64_t per_rank = run.train.batch_size / dist->world_size;
      std::cout << "distributed: " << dist->world_size << " ranks ("
                << run.train.distributed.backend << ", rendezvous " << dist->master_addr << ":"
                << dist->port << ", timeout " << run.train.distributed.timeout_s
                << " s); global batch " << run.train.batch_size << " = about " << per_rank
                << " per rank"
                << (run.train.fused ? "; autograd step (the fused kernel is single-process)" : "")
                << "\n";
    }
    if (resume) {
      const TrainerState& s = resume->checkpoint.state;
      std::cout << "resuming from " << resume->path << ": epoch " << s.epoch << ", batch "
                << s.batch << " of " << trainer.steps_per_epoch() << ", step " << s.global_step
                << " of " << run.train.epochs * trainer.steps_per_epoch() << "\n";
    }
    std::printf("%-7s%-12s%-12s%-12s%s\n", "epoch", "train_loss", "valid_loss", "valid_rmse",
                "time");
    for (const auto& m : history) print_row(m);
  }

  // The newest checkpoint known to be whole on disk: a failed write or a diverged run names it,
  // as the state to continue from.
  std::string last_saved = resume ? resume->path : "";
  const auto kept = [&](bool resumable) {
    if (last_saved.empty()) return std::string("no checkpoint of this run had been written yet");
    return resumable ? "the previous checkpoint " + last_saved + " is intact (collab resume " +
                           shell_quoted(run_dir) + " continues from it)"
                     : "the last good checkpoint, " + last_saved + ", is kept";
  };

  FitHooks hooks;
  hooks.checkpoint = run.checkpoint;
  hooks.stop_requested = [] { return interrupt_signal() != 0; };
  if (!lead) {
    // Stopped with the others (rank 0 checkpoints and prints the resume command), possibly by
    // a signal only another rank received.
    trainer.fit(hooks);
    if (!trainer.stopped()) return 0;
    return 128 + (interrupt_signal() != 0 ? interrupt_signal() : SIGTERM);
  }
  hooks.on_epoch = [&](const EpochMetrics& m) {
    const json line = metrics_json(m);
    history.push_back(line);
    append_json_line(metrics_path, line);
    if (!quiet) print_row(line);
  };
  hooks.on_checkpoint = [&](const TrainerState& state) {
    Checkpoint c;
    c.config = run.resolved;
    c.state = state;
    c.users = data.users;
    c.items = data.items;
    c.data_fingerprint = fingerprint;
    c.metrics = history;
    try {
      last_saved = save_checkpoint(run_dir, c, run.checkpoint.keep_last);
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + "; " + kept(true));
    }
  };
  try {
    trainer.fit(hooks);
  } catch (const TrainingDiverged& e) {
    throw Error(std::string(e.what()) + "; " + kept(false));
  }
  if (trainer.stopped()) {
    const int signal = interrupt_signal();
    std::cout << std::flush;
    std::cerr << "collab: interrupted by " << signal_name(signal) << " at epoch " << trainer.epoch()
              << ", step " << trainer.global_step() << " of "
              << run.train.epochs * trainer.steps_per_epoch()
              << "; checkpoint saved: " << last_saved << "\n"
              << "continue with: collab resume " << shell_quoted(run_dir) << "\n";
    return 128 + signal;
  }
  const RatingMetrics final_metrics = trainer.evaluate();
  std::printf("valid_mse %.6f valid_rmse %.6f valid_mae %.6f\n", final_metrics.mse,
              final_metrics.rmse, final_metrics.mae);
  return 0;
}

int train_command(int argc, char** argv) {
  cxxopts::Options options("collab train", "Train a model from a JSON config.");
  options.positional_help("CONFIG");
  options.add_options()("config", "JSON config file", cxxopts::value<std::string>())(
      "set", "override a config key, e.g. --set train.lr_max=1e-2 (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "run-dir",
      "folder for config.json, metrics.jsonl and checkpoints/ (default runs/<arch>-<time>)",
      cxxopts::value<std::string>()->default_value(""))(
      "resume", "continue the run in --run-dir from its latest checkpoint (same model and data)")(
      "q,quiet", "print only the final metrics")("h,help", "show this help");
  options.parse_positional({"config"});
  const auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::cout << options.help() << "\n";
    return 0;
  }
  if (!args.count("config"))
    throw std::invalid_argument("need a CONFIG file (collab train --help)");
  if (!args.unmatched().empty()) {
    throw std::invalid_argument("unexpected argument \"" + args.unmatched()[0] + "\"");
  }
  const bool quiet = args.count("quiet") > 0;
  const auto overrides =
      args.count("set") ? args["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const RunConfig run = load_run_config(args["config"].as<std::string>(), overrides);
  const std::string run_dir = args["run-dir"].as<std::string>();
  std::optional<ResumePoint> resume;
  if (args.count("resume")) {
    if (run_dir.empty()) {
      throw std::invalid_argument("--resume needs --run-dir DIR, the run to continue");
    }
    resume = latest_resume_point(run_dir);
  }
  return run_training(run, run_dir, quiet, resume);
}

}  // namespace collab
