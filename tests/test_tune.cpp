// `collab tune` (train/tune.h, train/search_space.h): the search space's parsing and drawing, and
// tunes end to end on a small fixture: trials that never see the test file, reports, the best
// config that `collab train` takes, the final test run, a budget, successive halving, resuming
// after SIGINT, and the refusals.
#include <gtest/gtest.h>

#include <signal.h>

#include <cmath>
#include <cstdio>
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
  EXPECT_TRUE(contains(space_error(json::array()), "non-empty array of alternative spaces"));
  EXPECT_TRUE(contains(space_error(json::array({{{"a", {{"int", {1, 2}}}}}, 3})),
                       "space[1]: expected an object of config keys"));
  EXPECT_TRUE(contains(space_error(json::array({{{"a", {{"int", {2, 1}}}}}})),
                       "space[0].\"a\": \"int\" expects low <= high"));
  EXPECT_TRUE(contains(space_error("lr"), "expected an object of config keys"));
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

// A space given as alternatives: each draw takes one alternative's keys, never a mix; the grid is
// each alternative's grid in turn; the reports' keys are their union.
TEST(SearchSpace, AlternativesDrawOneSpaceEach) {
  const json first = {{"model", {{"choice", {{{"arch", "CollabNN"}, {"layers", {8}}}}}}},
                      {"train.lr_max", {{"log_uniform", {1e-3, 1e-2}}, {"num", 2}}}};
  const json second = {{"model.n_factors", {{"int", {2, 4}}}},
                       {"train.lr_max", {{"uniform", {0.1, 0.2}}}}};
  const collab::SearchSpace space(json::array({first, second}), "space");
  std::mt19937_64 rng(5);
  int from_first = 0, from_second = 0;
  for (int i = 0; i < 200; ++i) {
    const json v = space.sample(rng);
    ASSERT_NE(v.contains("model"), v.contains("model.n_factors")) << v.dump();
    const double lr = v["train.lr_max"].get<double>();
    if (v.contains("model")) {
      ++from_first;
      EXPECT_LE(lr, 1e-2);
    } else {
      ++from_second;
      EXPECT_GE(lr, 0.1);  // the second alternative's own range for a shared key
    }
  }
  EXPECT_GT(from_first, 60);
  EXPECT_GT(from_second, 60);
  // A grid is bounded in all: 60,000 configurations per alternative, twice, is too many.
  const json big = {{"a", {{"int", {1, 1000}}, {"num", 1000}}},
                    {"b", {{"int", {1, 60}}, {"num", 60}}}};
  EXPECT_EQ(collab::SearchSpace(big, "space").grid().size(), 60000u);
  expect_one_line_error_thrown([&] { collab::SearchSpace(json::array({big, big}), "s").grid(); },
                               {"more than 100000 configurations"});
  const std::vector<json> grid = space.grid();
  ASSERT_EQ(grid.size(), 1u * 2u + 3u * 3u);
  EXPECT_TRUE(grid[0].contains("model"));
  EXPECT_EQ(grid[2]["model.n_factors"], 2);
  std::vector<std::string> keys;
  for (const auto& p : space.parameters()) keys.push_back(p.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"model", "train.lr_max", "model.n_factors"}));
  // "model" (a whole section) is set before the keys under it.
  const json config = collab::with_values(
      {{"model", {{"arch", "DotProductBias"}, {"n_factors", 50}}}},
      {{"model", {{"arch", "SVDpp"}}}, {"model.n_factors", 8}});
  EXPECT_EQ(config["model"], json({{"arch", "SVDpp"}, {"n_factors", 8}}));
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

namespace {

// Three architectures as alternatives, and a blend of up to three of their trials.
json blend_tune() {
  const json dot = {{"model.n_factors", {{"int", {4, 12}}}},
                    {"train.lr_max", {{"log_uniform", {3e-3, 3e-2}}}}};
  const json biases = {{"model", {{"choice", {{{"arch", "Biases"}, {"y_range", {0, 5.5}}}}}}}};
  const json nn = {
      {"model", {{"choice", {{{"arch", "CollabNN"}, {"layers", {8}}, {"y_range", {0, 5.5}}}}}}},
      {"train.lr_max", {{"log_uniform", {3e-3, 3e-2}}}}};
  return {{"trials", 6},
          {"space", json::array({dot, biases, nn})},
          {"blend", {{"max_models", 3}, {"features", {"user_support"}}}}};
}

}  // namespace

// The blend of a tune's trials: chosen on the inner split, written as blend.json and as a compare
// config that reproduces it, its members trained on data.train and tested in the same reading as
// the best trial.
TEST(Tune, BlendsTheTrialsOfSeveralArchitectures) {
  TuneWorkspace ws(/*epochs=*/3);
  ws.write_tune(blend_tune());
  const CommandResult r = ws.run();
  expect_ok(r);
  EXPECT_TRUE(contains(r.out, "blend of ")) << r.out;
  EXPECT_TRUE(contains(r.out, "blend test (data.valid, the same reading)")) << r.out;
  std::set<std::string> archs;
  for (const json& line : ws.results()) {
    const json trial = json::parse(read_text(line["run_dir"].get<std::string>() + "/config.json"));
    archs.insert(trial["model"]["arch"].get<std::string>());
  }
  EXPECT_GE(archs.size(), 2u);  // the alternatives were drawn

  const json blend = json::parse(read_text(ws.out + "/blend.json"));
  const json& members = blend["members"];
  ASSERT_GE(members.size(), 1u);
  ASSERT_LE(members.size(), 3u);
  std::set<int64_t> trials;
  double previous = 1e9;
  for (const json& m : members) {
    trials.insert(m["trial"].get<int64_t>());
    // Each choice lowered the cross-validated RMSE by more than min_gain.
    EXPECT_LT(m["inner_cv_rmse_after"].get<double>(), previous - 1e-4);
    previous = m["inner_cv_rmse_after"].get<double>();
    EXPECT_EQ(m["feature_weights"].size(), 1u);
    EXPECT_TRUE(fs::exists(m["final_run_dir"].get<std::string>() + "/metrics.jsonl"));
  }
  EXPECT_EQ(trials.size(), members.size());
  EXPECT_EQ(blend["inner_cv_rmse"], members.back()["inner_cv_rmse_after"]);
  const double test_rmse = blend["final_test"]["rmse"].get<double>();
  EXPECT_TRUE(std::isfinite(test_rmse));

  // best_blend.json, run by `collab compare`, fits the same weights on the same inner split and
  // trains the same members: its Blend row is the tune's blend. (Training is deterministic with
  // one thread and the same seeds; 1e-5 covers float sums.)
  const std::string compare_dir = ws.dir + "/compare";
  expect_ok(run_collab("compare " + shell_quote(ws.out + "/best_blend.json") + " --run-dir " +
                       shell_quote(compare_dir)));
  const json compared = json::parse(read_text(compare_dir + "/compare.json"));
  const json& row = compared["candidates"].back();
  ASSERT_EQ(row["name"], "Blend");
  EXPECT_NEAR(row["folds"][0]["final"]["rmse"].get<double>(), test_rmse, 1e-5);

  // A trial trained on after it finished holds another model than its results describe: the
  // blend leaves it out and says so.
  const int64_t first = members[0]["trial"].get<int64_t>();
  char name[32];
  std::snprintf(name, sizeof name, "/trials/trial-%04lld", static_cast<long long>(first));
  const std::string first_dir = ws.out + name;
  expect_ok(run_collab("resume " + shell_quote(first_dir) + " --epochs 5 --quiet"));
  expect_ok(ws.run("--quiet"));
  const json again = json::parse(read_text(ws.out + "/blend.json"));
  ASSERT_EQ(again["skipped"].size(), 1u) << again.dump();
  EXPECT_EQ(again["skipped"][0]["trial"], first);
  for (const json& m : again["members"]) EXPECT_NE(m["trial"], first);
}

// Stopped while a blend member trains for the final test, the tune continues where it stopped
// and reaches the numbers of a tune never stopped.
TEST(Tune, BlendFinalContinuesAfterAStop) {
  TuneWorkspace ws(/*epochs=*/3);
  ws.write_tune(blend_tune());
  const collab::TuneConfig config = collab::load_tune_config(ws.tune);
  const collab::TuneResult whole = collab::run_tune(config, ws.dir + "/whole");
  ASSERT_TRUE(whole.blend && whole.blend->final_test);
  ASSERT_GE(whole.blend->members.size(), 2u);  // a member besides the best trial, in final-blend/

  collab::TuneHooks hooks;
  int polls = 0;
  hooks.stop_requested = [&] { return fs::exists(ws.out + "/final-blend") && ++polls > 3; };
  const collab::TuneResult stopped = collab::run_tune(config, ws.out, hooks);
  EXPECT_TRUE(stopped.stopped);
  ASSERT_TRUE(stopped.blend);
  EXPECT_FALSE(stopped.blend->final_test);
  const collab::TuneResult resumed = collab::run_tune(config, ws.out);
  EXPECT_FALSE(resumed.stopped);
  ASSERT_TRUE(resumed.blend && resumed.blend->final_test);
  // Resuming is exact (the checkpoint carries the RNG and optimizer state).
  EXPECT_DOUBLE_EQ(resumed.blend->final_test->rmse, whole.blend->final_test->rmse);
  EXPECT_EQ(resumed.blend->weights.weights, whole.blend->weights.weights);

  // A tune dir moved elsewhere reads its trials from where they are now, not where they trained.
  fs::rename(ws.dir + "/whole", ws.dir + "/moved");
  const collab::TuneResult moved = collab::run_tune(config, ws.dir + "/moved");
  ASSERT_TRUE(moved.blend && moved.blend->final_test);
  EXPECT_TRUE(contains(moved.blend->members.front().run_dir, ws.dir + "/moved/trials/"));
  EXPECT_DOUBLE_EQ(moved.blend->final_test->rmse, whole.blend->final_test->rmse);
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
  // A blend section's keys, and an inner split too small to fit a blend on.
  json blend = blend_tune();
  blend["blend"]["features"] = {"age"};
  ws.write_tune(blend);
  expect_one_line_error(ws.run(), "tune", {"blend.features[0]", "\"age\""});
  blend["blend"] = {{"max_models", 0}};
  ws.write_tune(blend);
  expect_one_line_error(ws.run(), "tune", {"blend.max_models"});
  blend["blend"] = {{"cv_folds", 1}};
  ws.write_tune(blend);
  expect_one_line_error(ws.run(), "tune", {"blend.cv_folds"});
  // Trials on another inner split than the one the blend is fitted on.
  blend["blend"] = json::object();
  blend["final"] = false;
  blend["space"] = {{"data.split_seed", {{"choice", {1, 2}}}}};
  ws.write_tune(blend);
  expect_one_line_error(ws.run("--quiet"), "tune", {"other ratings than the tune's inner split"});
  fs::remove_all(ws.out);
  blend = blend_tune();
  blend["blend"] = {{"features", {"user_support", "item_support"}}};
  blend["inner_valid_pct"] = 0.004;  // 5 of the 1200 ratings
  blend["final"] = false;
  ws.write_tune(blend);
  expect_one_line_error(ws.run("--quiet"), "tune", {"inner validation split has", "too few"});
  fs::remove_all(ws.out);
  // Another tune into a dir that holds one.
  ws.write_tune({{"trials", 1}, {"final", false}});
  expect_ok(ws.run());
  ws.write_tune({{"trials", 2}, {"final", false}});
  expect_one_line_error(ws.run(), "tune", {"holds another tune"});
}

}  // namespace test_tune
