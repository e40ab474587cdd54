// `collab tune TUNE_CONFIG [--dir DIR] [--quiet]`: hyper-parameter search (train/tune.h); prints a
// line per trial, the best configuration, the blend of the trials (with a "blend" section) and,
// once, their test metrics.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "collab/app/commands.h"
#include "collab/app/interrupt.h"
#include "collab/common/cli.h"
#include "collab/common/text.h"
#include "collab/train/tune.h"

namespace collab {

namespace {

std::string values_text(const json& values) {
  std::string out;
  for (const auto& [key, value] : values.items()) {
    out += (out.empty() ? "" : " ") + key + "=" + json_text(value);
  }
  return out;
}

void print_trial(const TrialResult& t, size_t planned, const std::string& metric) {
  std::printf("trial %lld/%zu rung %lld (%lld epochs) %s: %s %.6f (%s)\n",
              static_cast<long long>(t.trial), planned, static_cast<long long>(t.rung),
              static_cast<long long>(t.epochs), values_text(t.values).c_str(), metric.c_str(),
              t.metric, format_duration(t.seconds).c_str());
  std::fflush(stdout);
}

void print_blend(const TuneBlendResult& b) {
  std::string members;
  for (size_t m = 0; m < b.members.size(); ++m) {
    char member[64];
    std::snprintf(member, sizeof member, "%s%lld (%.3f)", m ? ", " : "",
                  static_cast<long long>(b.members[m].trial), b.weights.weights[m]);
    members += member;
  }
  std::printf("blend of %zu trials (weight): %s; inner cv rmse %.6f, best trial's %.6f\n"
              "blend config: %s\n",
              b.members.size(), members.c_str(), b.cv_rmse.back(), b.best_trial_rmse,
              b.config.c_str());
}

int report(const TuneResult& r, const std::string& config_path, const std::string& dir) {
  if (r.best) {
    std::printf("best: trial %lld, %s; inner validation rmse %.6f\nbest config: %s\n",
                static_cast<long long>(r.best->trial), values_text(r.best->values).c_str(),
                r.best->valid.rmse, r.best_config.c_str());
  }
  if (r.blend) print_blend(*r.blend);
  if (r.budget_spent) std::printf("budget spent: no further trial started\n");
  if (r.final_test) {
    std::printf("test (data.valid, read once) mse %.6f rmse %.6f mae %.6f: %s\n",
                r.final_test->mse, r.final_test->rmse, r.final_test->mae,
                r.final_run_dir.c_str());
  }
  if (r.blend && r.blend->final_test) {
    const RatingMetrics& m = *r.blend->final_test;
    std::printf("blend test (data.valid, the same reading) mse %.6f rmse %.6f mae %.6f\n", m.mse,
                m.rmse, m.mae);
  }
  std::printf("reports: %s/results.md, results.csv, results.json, plots/\n", dir.c_str());
  if (!r.stopped) return 0;
  const int signal = interrupt_signal() != 0 ? interrupt_signal() : 2;
  std::cout << std::flush;
  std::cerr << "collab: tune interrupted by " << signal_name(signal)
            << "; continue with: collab tune " << shell_quoted(config_path) << " --dir "
            << shell_quoted(dir) << "\n";
  return 128 + signal;
}

}  // namespace

int tune_command(int argc, char** argv) {
  cxxopts::Options options("collab tune",
                           "Hyper-parameter search: random, grid or successive halving over any "
                           "config keys, every trial an ordinary run dir; with a \"blend\" "
                           "section, a blend of the trials.");
  options.add_options()(
      "dir", "the tune dir (default runs/tune-<config name>); the same dir continues a tune",
      cxxopts::value<std::string>()->default_value(""))(
      "q,quiet", "print only the best configuration and the test metrics");
  const CommandLine line = parse_command_line(
      options, argc, argv, {"tune", "collab tune TUNE_CONFIG [--dir DIR]", "TUNE_CONFIG", 1, 1, ""});
  if (line.help) return 0;
  const std::string path = line.positionals[0];
  const TuneConfig config = load_tune_config(path);
  std::string dir = line.options["dir"].as<std::string>();
  if (dir.empty()) dir = "runs/tune-" + std::filesystem::path(path).stem().string();
  const bool quiet = line.options.count("quiet") > 0;
  TuneHooks hooks;
  // A tune is long: Ctrl-C stops the trial in training after its current step, with a
  // checkpoint, and the same command continues the tune.
  install_interrupt_handlers();
  hooks.stop_requested = [] { return interrupt_signal() != 0; };
  if (!quiet) {
    hooks.on_trial_end = [&config](const TrialResult& t) {
      print_trial(t, static_cast<size_t>(config.trials), config.metric);
    };
  }
  return report(run_tune(config, dir, hooks), path, dir);
}

}  // namespace collab
