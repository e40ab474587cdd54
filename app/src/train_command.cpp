// `collab train CONFIG [--set K=V]... [--run-dir DIR] [--resume]`: trains the configured model
// and prints a per-epoch table like fastai's. Also the training path `collab resume` shares
// (run_training), so a fresh run and a resumed one differ only in where they start.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <cxxopts.hpp>

#include "collab/app/checkpoints.h"
#include "collab/app/commands.h"
#include "collab/app/run_config.h"
#include "collab/app/run_dir.h"
#include "collab/app/training.h"
#include "collab/common/error.h"
#include "collab/data/dataset.h"
#include "collab/data/fetch.h"
#include "collab/data/item_features.h"
#include "collab/models/registry.h"
#include "collab/train/device.h"
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
  if (resume) check_same_run(run, *resume);
  if (!resume && !requested_run_dir.empty() && has_checkpoints(requested_run_dir)) {
    throw Error(requested_run_dir + " already holds the checkpoints of a run: continue it with " +
                "--resume (or collab resume), or train into another --run-dir");
  }

  const torch::Device device = resolve_device(run.train.device);
  const int64_t threads =
      run.train.threads > 0
          ? run.train.threads
          : static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(static_cast<int>(threads));

  if (!run.data.dataset.empty()) ensure_dataset(run.data.dataset, run.data.dir, quiet);
  const Dataset data = load_dataset(run.data);
  const std::string fingerprint = data_fingerprint(data);
  if (resume) check_same_data(data, fingerprint, *resume);

  torch::manual_seed(run.train.seed);
  ConfigReader model_section(run.model, "model", nullptr);
  CollabModel model = build_model_for(model_section, data);
  model->to(device);

  Trainer trainer(model, data, run.train, device);
  if (resume) {
    try {
      trainer.restore(resume->checkpoint.state);
    } catch (const Error& e) {
      throw Error("cannot resume from " + resume->path + ": " + e.what());
    }
  }

  const std::string run_dir = prepare_run_dir(requested_run_dir, model->arch());
  write_json_atomically(run_dir + "/config.json", run.resolved);
  // A resumed run's metrics are the checkpoint's history: lines an interrupted run appended
  // after its last checkpoint belong to epochs about to be trained again.
  json history = resume ? resume->checkpoint.metrics : json::array();
  const std::string metrics_path = run_dir + "/metrics.jsonl";
  std::string lines;
  for (const auto& m : history) lines += m.dump() + "\n";
  write_file_atomically(metrics_path, lines);
  if (resume) discard_checkpoints_after(run_dir, resume->checkpoint.state.global_step);

  int64_t n_params = 0;
  for (const auto& p : model->parameters()) n_params += p.numel();
  if (!quiet) {
    std::cout << model->arch() << ": " << n_params << " parameters; " << data.users.size()
              << " users, " << data.items.size() << " items; " << data.train.size() << " train / "
              << data.valid.size() << " valid ratings; " << device << ", " << threads
              << " thread(s); run dir " << run_dir << "\n";
    if (data.valid_unseen_users + data.valid_unseen_items > 0) {
      std::cout << "note: " << data.valid_unseen_users << " validation ratings have a user and "
                << data.valid_unseen_items << " an item never seen in training\n";
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

  FitHooks hooks;
  hooks.checkpoint = run.checkpoint;
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
    save_checkpoint(run_dir, c, run.checkpoint.keep_last);
  };
  trainer.fit(hooks);
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
