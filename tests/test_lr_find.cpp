// `collab lr-find` (train/lr_find.h): fastai's suggestion functions against the numbers fastai's
// own code gives on a made-up curve, and the command end to end: an exponential sweep, a stop
// once the loss diverges, a plot with the suggestions, a ready --set, and its refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "collab/train/lr_find.h"
#include "test_support.h"

namespace test_lr_find {

using collab::json;
using namespace collab::test;  // the shared helpers: test_support.h

namespace {

// No y_range: a sigmoid would bound the loss, and the sweep would never pass 4x its minimum.
json config() {
  return {{"data", {{"ratings", "ratings.tsv"}}},
          {"model", {{"arch", "DotProductBias"}, {"n_factors", 8}, {"y_range", nullptr}}},
          {"train", {{"batch_size", 32}, {"threads", 1}}}};
}

}  // namespace

// The expected values are fastai 2.7's `valley`, `minimum` and `steep`
// (fastai/callback/schedule.py, copied verbatim) run by Python on the same curve: lrs
// 1e-7 * 1e8^(i/100), losses 2 - 1.5 sigmoid((i - 50) / 6) + 0.002 i + 0.01 max(0, i - 80)^2,
// trimmed to [num_it/10, -5) as lr_find trims them. Doubles agree to rounding.
TEST(LrFind, SuggestionsAreFastais) {
  std::vector<double> lrs, losses;
  for (int i = 0; i < 100; ++i) {
    lrs.push_back(1e-7 * std::pow(10 / 1e-7, i / 100.0));
    losses.push_back(2 - 1.5 / (1 + std::exp(-(i - 50) / 6.0)) + 0.002 * i +
                     0.01 * std::pow(std::max(0, i - 80), 2));
  }
  const std::vector<collab::LrSuggestion> s = collab::suggest_lrs(lrs, losses, 100);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].name, "valley");
  EXPECT_NEAR(s[0].lr, 0.0006918309709189362, 1e-15);
  EXPECT_NEAR(s[0].loss, 1.4698553096934721, 1e-12);
  EXPECT_EQ(s[1].name, "minimum");
  EXPECT_NEAR(s[1].lr, 0.02089296130854041, 1e-14);
  EXPECT_NEAR(s[1].loss, 0.6698456252611281, 1e-12);
  // fastai marks valley and steep at their lr, minimum at the lowest point (ten times its lr).
  EXPECT_EQ(s[0].marked_lr, s[0].lr);
  EXPECT_NEAR(s[1].marked_lr, 10 * s[1].lr, 1e-15);
  EXPECT_EQ(s[2].marked_lr, s[2].lr);
  EXPECT_EQ(s[2].name, "steep");
  EXPECT_NEAR(s[2].lr, 0.0008317637711026709, 1e-15);
  EXPECT_NEAR(s[2].loss, 1.4103557248251999, 1e-12);
  // A NaN cuts the curve there; too short a curve has no suggestion.
  losses[30] = std::nan("");
  EXPECT_EQ(collab::suggest_lrs(lrs, losses, 100).size(), 3u);
  EXPECT_TRUE(collab::suggest_lrs({1e-3, 1e-2}, {1.0, 0.5}, 100).empty());
}

TEST(LrFind, SweepsDivergesPlotsAndSuggests) {
  Workspace ws(config(), synthetic_ratings(3000, 60, 50, /*seed=*/4), "collab-lr-find");
  const std::string plot = ws.path("lr.svg");
  const json r = run_collab_json("lr-find " + shell_quote(ws.config) + " --json --plot " +
                                 shell_quote(plot));
  const std::vector<double> lrs = r["lrs"], losses = r["losses"];
  ASSERT_EQ(lrs.size(), losses.size());
  ASSERT_GE(lrs.size(), 20u);
  // fastai's schedule: 1e-7 * (10 / 1e-7)^(i / 100).
  for (size_t i = 0; i < lrs.size(); ++i) {
    EXPECT_NEAR(std::log(lrs[i]), std::log(1e-7) + std::log(1e8) * i / 100.0, 1e-9) << i;
  }
  // Adam at lr 10 diverges: the sweep stops once the smoothed loss passes 4x its minimum.
  EXPECT_TRUE(r["diverged"].get<bool>());
  EXPECT_LT(lrs.size(), 100u);
  EXPECT_GT(losses.back(), 4 * *std::min_element(losses.begin(), losses.end()));
  const double valley = r["suggestions"]["valley"]["lr"];
  EXPECT_GT(valley, 1e-6);
  EXPECT_LT(valley, lrs.back());
  const std::string svg = read_text(plot);
  for (const char* name : {"data-name=\"loss\"", "data-name=\"valley ", "data-name=\"steep "}) {
    EXPECT_TRUE(contains(svg, name)) << name;
  }

  const CommandResult text = run_collab("lr-find " + shell_quote(ws.config) + " --plot " +
                                        shell_quote(plot) + " --num-it 40 --no-stop-div");
  expect_ok(text);
  EXPECT_TRUE(contains(text.out, "lr_find: 40 batches")) << text.out;
  EXPECT_TRUE(contains(text.out, "--set train.lr_max=")) << text.out;
}

TEST(LrFind, Refusals) {
  Workspace ws(config(), synthetic_ratings(300, 20, 20, /*seed=*/4), "collab-lr-find");
  expect_one_line_error(
      run_collab("lr-find " + shell_quote(ws.config) + " --set train.optimizer=sgd"), "lr-find",
      {"train.optimizer \"sgd\"", "exact path"});
  expect_one_line_error(run_collab("lr-find " + shell_quote(ws.config) + " --num-it 3"),
                        "lr-find", {"--num-it"});
  expect_one_line_error(run_collab("lr-find " + shell_quote(ws.config) + " --start-lr 0"),
                        "lr-find", {"--start-lr"});
  expect_one_line_error(run_collab("lr-find " + shell_quote(ws.path("missing.json"))), "lr-find",
                        {"missing.json"});
}

}  // namespace test_lr_find
