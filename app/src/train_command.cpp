// `collab train CONFIG [--set K=V]... [--run-dir DIR]`: trains the configured model and prints a
// per-epoch table like fastai's.
#include <cstdio>
#include <iostream>
#include <thread>

#include <cxxopts.hpp>

#include "collab/app/commands.h"
#include "collab/app/run_config.h"
#include "collab/app/run_dir.h"
#include "collab/common/error.h"
#include "collab/data/dataset.h"
#include "collab/data/fetch.h"
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

}  // namespace

int train_command(int argc, char** argv) {
  cxxopts::Options options("collab train", "Train a model from a JSON config.");
  options.positional_help("CONFIG");
  options.add_options()("config", "JSON config file", cxxopts::value<std::string>())(
      "set", "override a config key, e.g. --set train.lr_max=1e-2 (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "run-dir", "folder for config.json and metrics.jsonl (default runs/<arch>-<time>)",
      cxxopts::value<std::string>()->default_value(""))("q,quiet", "print only the final metrics")(
      "h,help", "show this help");
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
  RunConfig run = load_run_config(args["config"].as<std::string>(), overrides);

  const torch::Device device = resolve_device(run.train.device);
  const int64_t threads =
      run.train.threads > 0
          ? run.train.threads
          : static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(static_cast<int>(threads));

  if (!run.data.dataset.empty()) ensure_dataset(run.data.dataset, run.data.dir, quiet);
  const Dataset data = load_dataset(run.data);

  torch::manual_seed(run.train.seed);
  ConfigReader model_section(run.model, "model", nullptr);
  CollabModel model = build_model(model_section, {data.users.size(), data.items.size()});
  model->to(device);

  const std::string run_dir = prepare_run_dir(args["run-dir"].as<std::string>(), model->arch());
  write_json_atomically(run_dir + "/config.json", run.resolved);
  const std::string metrics_path = run_dir + "/metrics.jsonl";
  std::remove(metrics_path.c_str());

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
    std::printf("%-7s%-12s%-12s%-12s%s\n", "epoch", "train_loss", "valid_loss", "valid_rmse",
                "time");
  }
  Trainer trainer(model, data, run.train, device);
  trainer.fit([&](const EpochMetrics& m) {
    append_json_line(metrics_path, metrics_json(m));
    if (!quiet) {
      std::printf("%-7lld%-12.6f%-12.6f%-12.6f%s\n", static_cast<long long>(m.epoch), m.train_loss,
                  m.valid.mse, m.valid.rmse, format_time(m.seconds).c_str());
      std::fflush(stdout);
    }
  });
  const RatingMetrics final_metrics = trainer.evaluate();
  std::printf("valid_mse %.6f valid_rmse %.6f valid_mae %.6f\n", final_metrics.mse,
              final_metrics.rmse, final_metrics.mae);
  return 0;
}

}  // namespace collab
