// `collab tune` (train/tune.h, train/search_space.h): the search space's parsing and drawing, and
// tunes end to end on a small fixture: trials that never see the test file, reports, the best
// config that `collab train` takes, the final test run, a budget, successive halving, resuming
// after SIGINT, and the refusals.
#include <gtest/gtest.h>

#include <signal.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "collab/common/error.h"
#include "collab/train/search_space.h"
#include "collab/train/tune.h"
#include "test_support.h"

namespace test_tune {

namespace fs = std::filesystem;
using collab::json;
using namespace collab::test;  // the shared helpers: test_support.h

namespace {

std::string space_error(const json& space) {
  try {
    collab::SearchSpace s(space, "space");
  } catch (const collab::Error& e) {
    return e.what();
  }
  return "";
}

// train.tsv / test.tsv and a base config holding them as a predefined split.
struct TuneWorkspace {
  std::string dir = temp_dir("collab-tune");
  std::string base = dir + "/base.json";
  std::string tune = dir + "/tune.json";
  std::string out = dir + "/out";

  explicit TuneWorkspace(int epochs = 2, int train_ratings = 1200) {
    write_text(dir + "/train.tsv", synthetic_ratings(train_ratings, 40, 30, /*seed=*/8));
    write_text(dir + "/test.tsv", synthetic_ratings(200, 40, 30, /*seed=*/9));
    write_text(base, json({{"data", {{"train", "train.tsv"}, {"valid", "test.tsv"}}},
                           {"model", {{"arch", "DotProductBias"}, {"n_factors", 8},
                                      {"y_range", {0, 5.5}}}},
                           {"train", {{"epochs", epochs}, {"batch_size", 32}, {"threads", 1}}}})
                          .dump());
  }
  void write_tune(const json& extra) const {
    json t = {{"base", "base.json"},
              {"trials", 3},
              {"seed", 7},
              {"space", {{"train.lr_max", {{"log_uniform", {1e-3, 3e-2}}}},
                         {"model.n_factors", {{"int", {4, 12}}}}}}};
    for (const auto& [k, v] : extra.items()) t[k] = v;
    write_text(tune, t.dump());
  }
  CommandResult run(const std::string& extra = "") const {
    return run_collab("tune " + shell_quote(tune) + " --dir " + shell_quote(out) + " " + extra);
  }
  std::vector<json> results() const {
    std::vector<json> lines;
    std::istringstream in(read_text(out + "/results.jsonl"));
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    return lines;
  }
};

}  // namespace

TEST(SearchSpace, ErrorsNameTheKey) {
  EXPECT_TRUE(contains(space_error(json::array()), "expected an object of config keys"));
  EXPECT_TRUE(contains(space_error({{"train.lr_max", {{"gauss", {1, 2}}}}}),
                       "space.\"train.lr_max\": unknown key \"gauss\""));
  EXPECT_TRUE(contains(space_error({{"a", {{"uniform", {2, 1}}}}}), "low <= high"));
  EXPECT_TRUE(contains(space_error({{"a", {{"log_uniform", {0, 1}}}}}), "positive low"));
  EXPECT_TRUE(contains(space_error({{"a", {{"int", {1.5, 3}}}}}), "two integers"));
  EXPECT_TRUE(contains(space_error({{"a", {{"choice", json::array()}}}}), "non-empty array"));
  EXPECT_TRUE(contains(space_error({{"a", {{"uniform", {0, 1}}, {"int", {0, 1}}}}}),
                       "exactly one of"));
  EXPECT_TRUE(contains(space_error({{"a", {{"uniform", {0, 1}}, {"num", 0}}}}), "\"num\""));
  EXPECT_TRUE(contains(space_error({{"a", 3}}), "expected an object such as"));
}

TEST(SearchSpace, DrawsWithinRangesAndEnumeratesTheGrid) {
  const collab::SearchSpace space({{"lr", {{"log_uniform", {1e-4, 1e-1}}}},
                                   {"wd", {{"uniform", {0, 0.5}}, {"num", 2}}},
                                   {"k", {{"int", {2, 4}}}},
                                   {"y", {{"choice", {json::array({0, 5.5}), "none"}}}}},
                                  "space");
  std::mt19937_64 rng(1), again(1);
  std::set<int64_t> ks;
  for (int i = 0; i < 200; ++i) {
    const json v = space.sample(rng);
    EXPECT_EQ(v, space.sample(again));  // the same seed, the same trials
    EXPECT_GE(v["lr"].get<double>(), 1e-4);
    EXPECT_LE(v["lr"].get<double>(), 1e-1);
    EXPECT_GE(v["wd"].get<double>(), 0);
    EXPECT_LE(v["wd"].get<double>(), 0.5);
    ks.insert(v["k"].get<int64_t>());
  }
  EXPECT_EQ(ks, (std::set<int64_t>{2, 3, 4}));
  const std::vector<json> grid = space.grid();
  ASSERT_EQ(grid.size(), 3u * 2u * 3u * 2u);
  EXPECT_NEAR(grid.front()["lr"].get<double>(), 1e-4, 1e-12);
  // Keys in alphabetical order (k, lr, wd, y), the last varying fastest: lr's log-spaced
  // middle value first comes at index 2 * 2.
  EXPECT_NEAR(grid[4]["lr"].get<double>(), std::sqrt(1e-4 * 1e-1), 1e-9);
  EXPECT_EQ(grid[1]["y"], "none");
  EXPECT_EQ(collab::with_values(json::object(), grid[1])["y"], "none");
}

TEST(Tune, RandomSearchReportsTheBestAndTestsItOnce) {
  TuneWorkspace ws;
  ws.write_tune({});
  const CommandResult r = ws.run();
  expect_ok(r);
  const std::vector<json> lines = ws.results();
  ASSERT_EQ(lines.size(), 3u);
  double best = 1e9;
  for (const json& line : lines) {
    best = std::min(best, line["metric"].get<double>());
    // A trial trains on train.tsv split again; the test file is never in its config.
    const json trial = json::parse(read_text(line["run_dir"].get<std::string>() + "/config.json"));
    EXPECT_FALSE(trial["data"].contains("valid")) << trial.dump();
    EXPECT_TRUE(contains(trial["data"]["ratings"].get<std::string>(), "train.tsv"));
    EXPECT_EQ(trial["data"]["valid_pct"], 0.2);
  }
  EXPECT_TRUE(contains(r.out, "trial 1/3")) << r.out;
  EXPECT_TRUE(contains(r.out, "test (data.valid, read once)")) << r.out;
  for (const char* f : {"results.md", "results.csv", "results.json", "plots/train.lr_max.svg",
                        "plots/model.n_factors.svg", "final/metrics.jsonl"}) {
    EXPECT_TRUE(fs::exists(ws.out + "/" + f)) << f;
  }
  const json results = json::parse(read_text(ws.out + "/results.json"));
  EXPECT_DOUBLE_EQ(results["trials"][0]["metric"].get<double>(), best);  // ranked, best first
  // best_config.json is a config `collab train` takes, with the base's own split.
  const json best_config = json::parse(read_text(ws.out + "/best_config.json"));
  EXPECT_TRUE(contains(best_config["data"]["valid"].get<std::string>(), "test.tsv"));
  expect_ok(run_collab("train " + shell_quote(ws.out + "/best_config.json") + " --run-dir " +
                       shell_quote(ws.dir + "/again") + " --quiet"));

  // Run again: everything is read back, nothing trains.
  const CommandResult again = ws.run();
  expect_ok(again);
  EXPECT_EQ(ws.results().size(), 3u);
}

TEST(Tune, BudgetAndHalving) {
  TuneWorkspace ws(/*epochs=*/3);
  // A budget of 6 microseconds of training is spent by the first trial.
  ws.write_tune({{"minutes", 1e-7}, {"final", false}});
  const CommandResult budget = ws.run();
  expect_ok(budget);
  EXPECT_EQ(ws.results().size(), 1u);
  EXPECT_TRUE(contains(budget.out, "budget spent")) << budget.out;

  TuneWorkspace halving(/*epochs=*/3);
  halving.write_tune({{"search", "halving"}, {"trials", 6}, {"final", false},
                      {"halving", {{"min_epochs", 1}, {"eta", 3}}}});
  expect_ok(halving.run());
  std::vector<int64_t> per_rung(2, 0);
  for (const json& line : halving.results()) {
    ++per_rung.at(line["rung"].get<size_t>());
    EXPECT_EQ(line["epochs"], line["rung"] == 0 ? 1 : 3);
  }
  EXPECT_EQ(per_rung, (std::vector<int64_t>{6, 2}));
}

TEST(Tune, ContinuesAfterAnInterrupt) {
  // Trials long enough (6 epochs of 20,000 ratings) that the interrupt lands inside one.
  TuneWorkspace ws(/*epochs=*/6, /*train_ratings=*/20000);
  ws.write_tune({{"trials", 4}, {"final", false}});
  const std::string log = ws.dir + "/tune.log";
  const pid_t pid = start_collab({"tune", ws.tune, "--dir", ws.out}, log);
  // Interrupt once the first trial is done and the second is training.
  ASSERT_TRUE(wait_until([&] { return fs::exists(ws.out + "/trials/trial-0002/metrics.jsonl"); },
                         120, std::chrono::milliseconds(5)));
  kill(pid, SIGINT);
  EXPECT_EQ(wait_exit_code(pid), 130) << read_text(log);
  EXPECT_TRUE(contains(read_text(log), "continue with: collab tune")) << read_text(log);
  const std::vector<json> before = ws.results();
  ASSERT_LT(before.size(), 4u);
  expect_ok(ws.run());
  const std::vector<json> after = ws.results();
  ASSERT_EQ(after.size(), 4u);
  for (size_t k = 0; k < before.size(); ++k) EXPECT_EQ(after[k], before[k]);  // kept as they were
  std::set<int64_t> trials;
  for (const json& line : after) trials.insert(line["trial"].get<int64_t>());
  EXPECT_EQ(trials, (std::set<int64_t>{1, 2, 3, 4}));
}

TEST(Tune, Refusals) {
  TuneWorkspace ws;
  ws.write_tune({{"trials", 0}});
  expect_one_line_error(ws.run(), "tune", {"tune.json", "trials"});
  ws.write_tune({{"metric", "accuracy"}});
  expect_one_line_error(ws.run(), "tune", {"tune.json", "metric", "\"accuracy\""});
  ws.write_tune({{"space", {{"train.lr_max", {{"uniform", {1, 0}}}}}}});
  expect_one_line_error(ws.run(), "tune", {"space.\"train.lr_max\"", "low <= high"});
  // A base without a held-out test split.
  write_text(ws.dir + "/random_split.json",
             json({{"data", {{"ratings", "train.tsv"}}}, {"model", {{"arch", "DotProduct"}}}})
                 .dump());
  ws.write_tune({{"base", "random_split.json"}});
  expect_one_line_error(ws.run(), "tune", {"predefined split", "data.train and data.valid"});
  // Another tune into a dir that holds one.
  ws.write_tune({{"trials", 1}, {"final", false}});
  expect_ok(ws.run());
  ws.write_tune({{"trials", 2}, {"final", false}});
  expect_one_line_error(ws.run(), "tune", {"holds another tune"});
}

}  // namespace test_tune
