// `collab lr-find CONFIG`: fastai's learning-rate finder (train/lr_find.h) on a config's model and
// data; prints the suggestions and a ready --set, and plots the curve (log lr) with them marked.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/app/interrupt.h"
#include "collab/common/cli.h"
#include "collab/common/file_io.h"
#include "collab/common/svg_plot.h"
#include "collab/common/text.h"
#include "collab/train/lr_find.h"
#include "collab/train/run_config.h"

namespace collab {

namespace {

// fastai's plot_lr_find: the curve without its last 5 points, x on a log scale (here log10(lr)),
// each suggestion's point marked on the curve (the legend gives the suggested lr).
std::string lr_find_svg(const LrFindResult& r) {
  LineChart chart;
  chart.title = "lr_find";
  chart.x_label = "learning rate (log10)";
  chart.y_label = "smoothed training loss";
  chart.integer_x = true;
  LineSeries curve;
  curve.name = "loss";
  const size_t shown = r.lrs.size() > 5 ? r.lrs.size() - 5 : r.lrs.size();
  for (size_t i = 0; i < shown; ++i) {
    if (!std::isfinite(r.losses[i])) break;
    curve.x.push_back(std::log10(r.lrs[i]));
    curve.y.push_back(r.losses[i]);
  }
  chart.series.push_back(curve);
  for (const LrSuggestion& s : r.suggestions) {
    char name[64];
    std::snprintf(name, sizeof name, "%s %.2e", s.name.c_str(), s.lr);
    // Larger than the curve's own points, so that the marks stand out on it.
    chart.series.push_back({name, {std::log10(s.marked_lr)}, {s.loss}, {}, {}, /*point_radius=*/7});
  }
  return line_chart_svg(chart);
}

json result_json(const LrFindResult& r, const std::string& plot) {
  json suggestions = json::object();
  for (const LrSuggestion& s : r.suggestions)
    suggestions[s.name] = {{"lr", s.lr}, {"loss", s.loss}, {"marked_lr", s.marked_lr}};
  return {{"lrs", r.lrs},
          {"losses", r.losses},
          {"diverged", r.diverged},
          {"suggestions", suggestions},
          {"plot", plot}};
}

void print_result(const LrFindResult& r, const LrFindOptions& o, const std::string& config,
                  const std::string& plot) {
  std::printf("lr_find: %zu batches, lr %.0e to %.2e%s\n", r.lrs.size(), o.start_lr,
              r.lrs.empty() ? o.start_lr : r.lrs.back(),
              r.diverged ? " (stopped: the smoothed loss passed 4x its minimum)" : "");
  if (r.suggestions.empty()) {
    std::printf("no suggestion: too few batches before the loss diverged (try --num-it)\n");
    return;
  }
  for (const LrSuggestion& s : r.suggestions) {
    std::printf("  %-8s lr %.2e  (smoothed loss %.4f)\n", s.name.c_str(), s.lr, s.loss);
  }
  std::printf("plot: %s\n", plot.c_str());
  std::printf("next: collab train %s --set train.lr_max=%.2e\n", shell_quoted(config).c_str(),
              r.suggestions.front().lr);
}

}  // namespace

int lr_find_command(int argc, char** argv) {
  cxxopts::Options options("collab lr-find",
                           "fastai's learning-rate finder: the loss of a fresh model while the lr "
                           "rises exponentially, with a suggested train.lr_max.");
  options.add_options()("set",
                        "override a config key, e.g. --set train.batch_size=128 (repeatable)",
                        cxxopts::value<std::vector<std::string>>())(
      "start-lr", "the first batch's lr", cxxopts::value<double>()->default_value("1e-7"))(
      "end-lr", "the lr the sweep would reach at --num-it",
      cxxopts::value<double>()->default_value("10"))(
      "num-it", "batches in the sweep (at least 6)",
      cxxopts::value<int64_t>()->default_value("100"))(
      "no-stop-div", "sweep all batches even after the loss diverges")(
      "plot", "the SVG plot to write", cxxopts::value<std::string>()->default_value("lr_find.svg"))(
      "json", "print the curve and the suggestions as JSON");
  const CommandSpec spec{"lr-find", "collab lr-find CONFIG [--set KEY=VALUE]...", "CONFIG", 1, 1,
                         ""};
  const CommandLine line = parse_command_line(options, argc, argv, spec);
  if (line.help) return 0;
  const cxxopts::ParseResult& args = line.options;
  LrFindOptions o;
  o.start_lr = args["start-lr"].as<double>();
  o.end_lr = args["end-lr"].as<double>();
  o.num_it = args["num-it"].as<int64_t>();
  o.stop_div = args.count("no-stop-div") == 0;
  if (!(o.start_lr > 0 && std::isfinite(o.end_lr) && o.end_lr > o.start_lr)) {
    throw_usage_error(spec, "--start-lr must be positive and below --end-lr");
  }
  if (o.num_it < 6 || o.num_it > 100000) throw_usage_error(spec, "--num-it must be in [6, 100000]");
  const auto overrides =
      args.count("set") ? args["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const RunConfig run = load_run_config(line.positionals[0], overrides);
  const std::string plot = args["plot"].as<std::string>();
  install_interrupt_handlers();
  const LrFindResult result = lr_find(run, o, {}, [] { return interrupt_signal() != 0; });
  write_file_atomically(plot, lr_find_svg(result));
  if (args.count("json")) {
    std::cout << json_text(result_json(result, plot)) << "\n";
  } else {
    print_result(result, o, line.positionals[0], plot);
  }
  // Interrupted: the curve so far is printed and plotted, and the exit code says it was cut.
  return interrupt_signal() != 0 ? 128 + interrupt_signal() : 0;
}

}  // namespace collab
