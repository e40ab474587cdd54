// `collab cold-start CONFIG [--side users|items] [--user-file u.user] [--seeds 1,2,3]
// [--reveal 0,1,3,5,10]`: the user or item cold-start protocol (train/cold_start_eval.h): hold out
// whole users (items), reveal a few of their ratings, and print the RMSE (and its paired
// difference from the mean user or item) and NDCG@k on the rest, for every strategy, as mean ± sd
// over seeds; --plot draws the RMSE.
#include <cmath>
#include <cstdio>
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/common/cli.h"
#include "collab/common/config_reader.h"
#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/statistics.h"
#include "collab/common/svg_plot.h"
#include "collab/train/cold_start_eval.h"

namespace collab {

namespace {

template <class T>
std::vector<T> whole_numbers(const std::string& text, const std::string& option) {
  std::vector<T> out;
  std::stringstream in(text);
  std::string entry;
  while (std::getline(in, entry, ',')) {
    try {
      size_t used = 0;
      const long long v = std::stoll(entry, &used);
      if (used != entry.size() || v < 0) throw std::invalid_argument(entry);
      out.push_back(static_cast<T>(v));
    } catch (const std::exception&) {
      throw std::invalid_argument(option + ": \"" + entry + "\" is not a whole number >= 0");
    }
  }
  if (out.empty()) throw std::invalid_argument(option + " needs at least one number");
  return out;
}

// The user file beside the config's data, as `collab audit` finds it (default_user_file).
std::string cold_start_user_file(const RunConfig& run) {
  const std::string found = default_user_file(run.data);
  if (found.empty()) {
    throw std::invalid_argument(
        "need --user-file (no u.user or users.dat beside the config's data)");
  }
  return found;
}

std::string cold_start_mean_sd(const std::vector<double>& values) {
  const MeanSd m = mean_sd(values);
  if (std::isnan(m.mean)) return "-";
  char text[64];
  std::snprintf(text, sizeof text, "%.4f ± %.4f", m.mean, m.sd);
  return text;
}

// One table: a row per strategy, a column per reveal count, `value(seed, strategy, reveal)` as
// mean ± sd over the seeds.
template <class F>
void print_cold_start_table(const ColdStartResult& r, size_t seeds, F value) {
  std::cout << "| strategy |";
  for (const int64_t n : r.reveal) std::cout << " " << n << " revealed |";
  std::cout << "\n|---|";
  for (size_t i = 0; i < r.reveal.size(); ++i) std::cout << "---|";
  std::cout << "\n";
  for (size_t k = 0; k < r.strategies.size(); ++k) {
    std::cout << "| " << r.strategies[k] << " |";
    for (size_t n = 0; n < r.reveal.size(); ++n) {
      std::vector<double> values;
      for (size_t s = 0; s < seeds; ++s) values.push_back(value(s, k, n));
      std::cout << " " << cold_start_mean_sd(values) << " |";
    }
    std::cout << "\n";
  }
  std::cout << "\n";
}

void print_cold_start_tables(const ColdStartResult& r, int64_t k) {
  int64_t users = 0, ratings = 0;
  for (size_t s = 0; s < r.rmse.size(); ++s)
    users += r.held_out_users[s], ratings += r.scored_ratings[s];
  const size_t seeds = r.rmse.size();
  const std::string one = r.side == "items" ? "item" : "user";
  std::cout << "Held-out " << r.side << "' unrevealed ratings, mean ± sd over " << seeds
            << " seed(s) (" << users << " " << one << "-seeds, " << ratings
            << " ratings scored)\n\nRMSE\n\n";
  print_cold_start_table(r, seeds, [&](size_t s, size_t k, size_t n) { return r.rmse[s][k][n]; });
  // Seeds differ far more from each other than strategies do on one seed: the paired
  // difference is what says whether one strategy beats another.
  std::cout << "RMSE minus the mean " << one << "'s on the same seed (negative: better)\n\n";
  print_cold_start_table(r, seeds, [&](size_t s, size_t k, size_t n) {
    return r.rmse[s][k][n] - r.rmse[s][r.baseline][n];
  });
  std::cout << "NDCG@" << k << "\n\n";
  print_cold_start_table(r, seeds, [&](size_t s, size_t k, size_t n) { return r.ndcg[s][k][n]; });
}

// RMSE against the number of revealed ratings, one line per strategy with its ± sd band over
// the seeds (a strategy with no numbers, item bias without a bias, is left out).
std::string cold_start_svg(const ColdStartResult& r) {
  LineChart chart;
  chart.title = std::string(r.side == "items" ? "Item" : "User") +
                " cold start: RMSE on held-out " + r.side + " (mean ± sd over seeds)";
  chart.x_label = "ratings revealed";
  chart.y_label = "RMSE";
  for (size_t k = 0; k < r.strategies.size(); ++k) {
    LineSeries line;
    line.name = r.strategies[k];
    for (size_t n = 0; n < r.reveal.size(); ++n) {
      std::vector<double> over_seeds;
      for (const auto& seed : r.rmse) over_seeds.push_back(seed[k][n]);
      const MeanSd m = mean_sd(over_seeds);
      line.x.push_back(static_cast<double>(r.reveal[n]));
      line.y.push_back(m.mean);
      line.lo.push_back(m.mean - m.sd);
      line.hi.push_back(m.mean + m.sd);
    }
    if (!std::isnan(line.y.front())) chart.series.push_back(std::move(line));
  }
  return line_chart_svg(chart);
}

}  // namespace

int cold_start_command(int argc, char** argv) {
  cxxopts::Options options("collab cold-start",
                           "Hold out whole users (or items), reveal a few of their ratings, and "
                           "compare the cold-start strategies' RMSE on the rest: collab "
                           "cold-start CONFIG");
  // clang-format off
  options.add_options()
      ("side", "hold out users or items", cxxopts::value<std::string>()->default_value("users"))
      ("user-file", "the users' side information (default: u.user beside the item file)",
       cxxopts::value<std::string>())
      ("seeds", "one user split and training per seed", cxxopts::value<std::string>()->default_value("1,2,3,4,5"))
      ("reveal", "how many ratings of each held-out user (item) to reveal",
       cxxopts::value<std::string>()->default_value("0,1,3,5,10"))
      ("holdout", "fraction of the users (items) held out",
       cxxopts::value<double>()->default_value("0.2"))
      ("prior-weight", "fold-in's prior weight", cxxopts::value<double>()->default_value("0.8"))
      ("k", "NDCG@k", cxxopts::value<int64_t>()->default_value("10"))
      ("set", "override a config key (repeatable)", cxxopts::value<std::vector<std::string>>())
      ("plot", "also write RMSE per reveal count as an SVG line chart", cxxopts::value<std::string>())
      ("json", "print the per-seed numbers as JSON");
  // clang-format on
  const CommandLine line = parse_command_line(
      options, argc, argv, {"cold-start", "collab cold-start CONFIG", "CONFIG", 1, 1, ""});
  if (line.help) return 0;
  const cxxopts::ParseResult& args = line.options;
  const auto overrides =
      args.count("set") ? args["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const RunConfig run = load_run_config(line.positionals[0], overrides);
  const std::string side = args["side"].as<std::string>();
  if (side != "users" && side != "items") {
    throw std::invalid_argument("--side: \"" + side + "\" is neither users nor items");
  }
  if (side == "items" && args.count("user-file")) {
    throw std::invalid_argument(
        "--user-file describes users: --side items reads the items' genres and dates from "
        "data.items");
  }
  ColdStartOptions cold;
  if (side == "users") {
    cold.user_file =
        args.count("user-file") ? args["user-file"].as<std::string>() : cold_start_user_file(run);
  }
  cold.seeds = whole_numbers<uint64_t>(args["seeds"].as<std::string>(), "--seeds");
  cold.reveal = whole_numbers<int64_t>(args["reveal"].as<std::string>(), "--reveal");
  cold.holdout_fraction = args["holdout"].as<double>();
  if (!(cold.holdout_fraction > 0 && cold.holdout_fraction < 1)) {
    throw std::invalid_argument("--holdout must be between 0 and 1 (exclusive)");
  }
  cold.prior_weight = args["prior-weight"].as<double>();
  if (!(cold.prior_weight >= 0)) throw std::invalid_argument("--prior-weight must be >= 0");
  cold.k = args["k"].as<int64_t>();
  if (cold.k < 1) throw std::invalid_argument("-k must be >= 1");
  const ColdStartResult result = side == "users" ? evaluate_user_cold_start(run, cold)
                                                 : evaluate_item_cold_start(run, cold);
  if (args.count("plot"))
    write_file_atomically(args["plot"].as<std::string>(), cold_start_svg(result));
  if (args.count("json")) {
    std::cout << json_text({{"strategies", result.strategies},
                            {"reveal", result.reveal},
                            {"seeds", cold.seeds},
                            {"rmse", result.rmse},
                            {"ndcg", result.ndcg},
                            {"k", cold.k},
                            {"side", side},
                            {"held_out_" + side, result.held_out_users},
                            {"scored_ratings", result.scored_ratings},
                            {"metadata_ridge", result.metadata_ridge}})
              << "\n";
    return 0;
  }
  print_cold_start_tables(result, cold.k);
  return 0;
}

}  // namespace collab
