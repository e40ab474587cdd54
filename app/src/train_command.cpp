// `collab train CONFIG [--set K=V]... [--run-dir DIR] [--resume]`: trains the configured model
// through the one training-run entry point (train/run.h) and prints a per-epoch table like
// fastai's. `collab resume` prints through the same code (training.h), so a fresh run and a
// resumed one differ only in where they start.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/app/interrupt.h"
#include "collab/app/training.h"
#include "collab/common/cli.h"
#include "collab/common/error.h"
#include "collab/common/text.h"
#include "collab/train/run.h"
#include "collab/train/run_config.h"

namespace collab {

namespace {

// One row of the epoch table, from a metrics.jsonl object (so rows of epochs trained before a
// resume print the same way).
void print_row(const json& m) {
  std::printf("%-7lld%-12.6f%-12.6f%-12.6f%s\n", static_cast<long long>(m.value("epoch", 0)),
              m.value("train_loss", 0.0), m.value("valid_mse", 0.0), m.value("valid_rmse", 0.0),
              format_duration(m.value("seconds", 0.0)).c_str());
  std::fflush(stdout);
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

void print_header(const RunStart& s) {
  const Dataset& data = *s.data;
  std::cout << s.model->arch() << ": " << s.parameters << " parameters; " << data.users.size()
            << " users, " << data.items.size() << " items; " << s.train_ratings << " train / "
            << data.valid.size() << " valid ratings; " << s.device << ", " << s.threads
            << " thread(s); " << (s.sparse_note.empty() ? "" : s.sparse_note + "; ") << "run dir "
            << s.run_dir << "\n";
  if (!s.sparse_note.empty()) return;
  if (data.duplicate_ratings > 0) {
    std::cout << "note: " << data.duplicate_ratings
              << " ratings repeat a (user, item) pair rated before (the first: "
              << data.first_duplicate << "); each is kept as its own example, as fastai does\n";
  }
  if (data.valid_unseen_users + data.valid_unseen_items > 0) {
    std::cout << "note: " << data.valid_unseen_users << " validation ratings have a user and "
              << data.valid_unseen_items << " an item never seen in training\n";
  }
  if (data.users_capped > 0) {
    std::cout << "note: data.max_ratings_per_user left " << data.capped_out.size()
              << " training ratings of " << data.users_capped << " users out of training\n";
  }
  if (data.valid_dropped_unseen > 0) {
    std::cout << "note: data.split dropped " << data.valid_dropped_unseen
              << " validation ratings whose user or item is not in the training set\n";
  }
}

void print_distributed(const RunStart& s, const RunConfig& run) {
  const DistributedEnv& dist = *s.distributed;
  std::cout << "distributed: " << dist.world_size << " ranks (" << run.train.distributed.backend
            << ", rendezvous " << dist.master_addr << ":" << dist.port << ", timeout "
            << run.train.distributed.timeout_s << " s); global batch " << run.train.batch_size
            << " = about " << run.train.batch_size / dist.world_size << " per rank"
            << (run.train.fused ? "; autograd step (the fused kernel is single-process)" : "")
            << "\n";
}

void print_start(const RunStart& s, const RunConfig& run) {
  print_header(s);
  if (s.distributed) print_distributed(s, run);
  if (s.resume) {
    const TrainerState& state = s.resume->checkpoint.state;
    std::cout << "resuming from " << s.resume->path << ": epoch " << state.epoch << ", batch "
              << state.batch << " of " << s.steps_per_epoch << ", step " << state.global_step
              << " of " << s.total_steps << "\n";
  }
  std::printf("%-7s%-12s%-12s%-12s%s\n", "epoch", "train_loss", "valid_loss", "valid_rmse",
              "time");
  for (const auto& m : s.history) print_row(m);
}

// The exit code and the lines after training: the interruption and how to continue, or the final
// metrics (and the sparse path's timings).
int report_end(const RunResult& result, const RunConfig& run) {
  if (result.stopped) {
    // A rank may stop on a signal only another rank received.
    if (!result.lead) return 128 + (interrupt_signal() != 0 ? interrupt_signal() : SIGTERM);
    const int signal = interrupt_signal();
    std::cout << std::flush;
    std::cerr << "collab: interrupted by " << signal_name(signal) << " at epoch " << result.epoch
              << ", step " << result.global_step << " of " << result.total_steps
              << "; checkpoint saved: " << result.last_checkpoint << "\n"
              << "continue with: collab resume " << shell_quoted(result.run_dir) << "\n";
    return 128 + signal;
  }
  if (!result.final_metrics) return 0;
  if (!result.early_stop.empty()) {
    std::cout << "early stopping: " << result.epoch << " of " << run.train.epochs
              << " epochs trained; " << result.early_stop << "\n";
  }
  if (!result.best_checkpoint.empty()) {
    std::printf("best epoch %lld (%s %.6f): %s\n", static_cast<long long>(result.best_epoch),
                result.best_metric.c_str(), result.best_value, result.best_checkpoint.c_str());
  }
  if (result.train_seconds > 0) {
    std::printf("train_seconds %.4f rating_updates_per_s %.0f train_cpu_seconds %.4f\n",
                result.train_seconds, result.rating_updates / result.train_seconds,
                result.train_cpu_seconds);
  }
  if (result.bytes_sent > 0) {
    std::printf("bytes_sent %lld (by rank 0 to the other ranks, this run)\n",
                static_cast<long long>(result.bytes_sent));
  }
  const RatingMetrics& m = *result.final_metrics;
  std::printf("valid_mse %.6f valid_rmse %.6f valid_mae %.6f\n", m.mse, m.rmse, m.mae);
  return 0;
}

}  // namespace

int train_and_report(const RunConfig& run, const std::string& run_dir, bool quiet,
                     std::optional<ResumePoint> resume) {
  RunOptions options;
  options.run_dir = run_dir;
  options.resume = std::move(resume);
  // A distributed run (WORLD_SIZE > 1 in the environment, as torchrun and collab launch set it):
  // only rank 0 prints, evaluates and writes the run dir and checkpoints.
  options.distributed = distributed_env_from_environment();
  if (options.distributed && options.distributed->rank != 0) quiet = true;
  options.quiet = quiet;
  options.hooks.stop_requested = [] { return interrupt_signal() != 0; };
  // Until training starts (reading data, building the model), SIGINT and SIGTERM end the process
  // as usual: there is nothing to save, and no read loop polls a flag. From the first step on
  // they stop training after the current step, with a checkpoint.
  options.hooks.on_start = [&run, quiet](const RunStart& s) {
    install_interrupt_handlers();
    if (!quiet) print_start(s, run);
  };
  if (!quiet) {
    options.hooks.on_data = print_reads;
    options.hooks.on_epoch = [](const EpochMetrics& m) { print_row(epoch_json(m)); };
  }
  return report_end(run_training(run, options), run);
}

int train_command(int argc, char** argv) {
  cxxopts::Options options("collab train", "Train a model from a JSON config.");
  options.add_options()(
      "set", "override a config key, e.g. --set train.lr_max=1e-2 (repeatable)",
      cxxopts::value<std::vector<std::string>>())(
      "run-dir",
      "folder for config.json, metrics.jsonl and checkpoints/ (default runs/<arch>-<time>)",
      cxxopts::value<std::string>()->default_value(""))(
      "resume", "continue the run in --run-dir from its latest checkpoint (same model and data)")(
      "q,quiet", "print only the final metrics");
  const CommandLine line = parse_command_line(
      options, argc, argv,
      {"train", "collab train CONFIG [--set KEY=VALUE]... [--run-dir DIR] [--resume]", "CONFIG",
       1, 1, ""});
  if (line.help) return 0;
  const cxxopts::ParseResult& args = line.options;
  const auto overrides =
      args.count("set") ? args["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const RunConfig run = load_run_config(line.positionals[0], overrides);
  const std::string run_dir = args["run-dir"].as<std::string>();
  std::optional<ResumePoint> resume;
  if (args.count("resume")) {
    if (run_dir.empty()) {
      throw std::invalid_argument("--resume needs --run-dir DIR, the run to continue");
    }
    resume = latest_resume_point(run_dir);
  }
  return train_and_report(run, run_dir, args.count("quiet") > 0, std::move(resume));
}

}  // namespace collab
