// checkpoint.best and train.early_stopping (train/epoch_monitor.h): fastai's rule on hand-made
// metric sequences, then real runs whose best epoch is read from their own metrics.jsonl, on a
// fixture built to overfit (so the best epoch is not the last and early stopping has something
// to stop): the best checkpoint holds that epoch, early stopping ends the run where fastai's
// EarlyStoppingCallback would, a resume of a finished early-stopped run trains nothing, and the
// best checkpoint is a model every command reads. Config errors name their key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "collab/common/error.h"
#include "collab/train/checkpoint.h"
#include "collab/train/epoch_monitor.h"
#include "collab/train/run_checkpoints.h"
#include "test_support.h"

namespace test_best_epoch {

namespace fs = std::filesystem;
using collab::json;
using namespace collab::test;  // the shared helpers: test_support.h

namespace {

json epoch(int64_t index, double valid_mse) {
  return {{"epoch", index}, {"valid_mse", valid_mse}, {"valid_rmse", std::sqrt(valid_mse)}};
}

// Observes `values` as valid_mse of epochs 0, 1, ...; returns the epochs trained before a stop.
int64_t epochs_until_stop(collab::EpochMonitor& monitor, const std::vector<double>& values) {
  for (size_t k = 0; k < values.size(); ++k) {
    if (monitor.observe(epoch(static_cast<int64_t>(k), values[k])).stop) {
      return static_cast<int64_t>(k) + 1;
    }
  }
  return static_cast<int64_t>(values.size());
}

// A fixture that overfits within a few epochs: 300 random ratings (nothing to learn but noise),
// 32 factors, no weight decay and a constant lr, so that the validation error falls and then
// climbs as the model memorises the training ratings.
json overfitting_config(int epochs) {
  return {{"data", {{"ratings", "ratings.tsv"}, {"valid_pct", 0.3}}},
          {"model", {{"arch", "DotProductBias"}, {"n_factors", 32}, {"y_range", {0, 5.5}}}},
          {"train",
           {{"epochs", epochs},
            {"batch_size", 16},
            {"threads", 1},
            {"lr_max", 3e-2},
            {"weight_decay", 0},
            {"lr_schedule", "constant"}}},
          {"checkpoint", {{"every_epochs", 1}, {"keep_last", 2}, {"best", "valid_mse"}}}};
}

struct Workspace : collab::test::Workspace {
  explicit Workspace(const json& config)
      : collab::test::Workspace(config, synthetic_ratings(300, 20, 25, /*seed=*/5),
                                "collab-best") {
    train_options = "--quiet";
  }
};

std::vector<double> valid_mse_of(const std::string& run_dir) {
  std::vector<double> out;
  for (const json& line : metrics_without_seconds(run_dir)) out.push_back(line["valid_mse"]);
  return out;
}

}  // namespace

TEST(EpochMonitor, FollowsFastaisTrackerRule) {
  // min_delta 0.02, patience 2: epoch 1 improves on 1.0 by 0.2; 0.85 does not; 0.79 is below
  // 0.8 but not by more than 0.02, so it is a second epoch without improvement: stop after 4.
  collab::EpochMonitor monitor("valid_mse", {/*patience=*/2, "valid_mse", /*min_delta=*/0.02});
  EXPECT_EQ(epochs_until_stop(monitor, {1.0, 0.8, 0.85, 0.79, 0.7, 0.6}), 4);
  EXPECT_TRUE(monitor.stopped());
  // The best checkpoint has no min_delta: epoch 3's 0.79 is the best.
  ASSERT_TRUE(monitor.best()->best());
  EXPECT_EQ(monitor.best()->best_epoch(), 3);
  EXPECT_DOUBLE_EQ(*monitor.best()->best(), 0.79);
  EXPECT_NE(monitor.stop_reason().find("valid_mse did not improve by more than 0.02 for 2 epochs"),
            std::string::npos)
      << monitor.stop_reason();

  // Off: never stops, never keeps a best.
  collab::EpochMonitor off("", {});
  EXPECT_EQ(epochs_until_stop(off, {1, 2, 3, 4}), 4);
  EXPECT_FALSE(off.stopped());
  EXPECT_FALSE(off.best().has_value());

  // A diverging run's NaN is never a best; patience 1 stops at the first epoch that is no better.
  collab::EpochMonitor nan_run("valid_mse", {/*patience=*/1, "valid_mse", 0});
  EXPECT_EQ(epochs_until_stop(nan_run, {0.9, std::nan(""), 0.5}), 2);
  EXPECT_EQ(nan_run.best()->best_epoch(), 0);
}

TEST(EpochMonitor, ReplayContinuesWhereTheRunWas) {
  const std::vector<double> values = {1.0, 0.9, 0.95, 0.97, 0.99};
  collab::EpochMonitor whole("valid_mse", {/*patience=*/3, "valid_mse", 0});
  const int64_t stop = epochs_until_stop(whole, values);
  collab::EpochMonitor resumed("valid_mse", {/*patience=*/3, "valid_mse", 0});
  resumed.replay(json::array({epoch(0, 1.0), epoch(1, 0.9), epoch(2, 0.95)}));
  EXPECT_FALSE(resumed.stopped());
  EXPECT_EQ(3 + epochs_until_stop(resumed, {0.97, 0.99}), stop);
  EXPECT_EQ(stop, 5);
  EXPECT_EQ(resumed.best()->best_epoch(), 1);
}

TEST(BestEpoch, CheckpointHoldsTheBestEpochAndEarlyStoppingEndsTheRun) {
  // Without early stopping first: the whole curve, and its best epoch known from it.
  Workspace full(overfitting_config(/*epochs=*/12));
  expect_ok(full.train());
  const std::vector<double> curve = valid_mse_of(full.run_dir);
  ASSERT_EQ(curve.size(), 12u);
  const int64_t best = std::min_element(curve.begin(), curve.end()) - curve.begin();
  // The fixture overfits: otherwise this test would not tell a best checkpoint from the last.
  ASSERT_LT(best, 10) << "the fixture no longer overfits; valid_mse per epoch changed";
  const collab::Checkpoint kept =
      collab::read_checkpoint(collab::best_checkpoint_path(full.run_dir));
  EXPECT_EQ(kept.state.epoch, best + 1);  // epochs completed when it was saved
  ASSERT_EQ(kept.metrics.size(), static_cast<size_t>(best + 1));
  EXPECT_DOUBLE_EQ(kept.metrics.back()["valid_mse"].get<double>(), curve[best]);
  // keep_last 2 never prunes it (two ckpt-*.ckpt and best.ckpt remain), and the best checkpoint
  // is a model every command reads.
  EXPECT_EQ(checkpoint_file_names(full.run_dir).size(), 3u);
  expect_ok(run_collab("recommend " + shell_quote(collab::best_checkpoint_path(full.run_dir)) +
                       " --user 1 -k 3"));

  // The same run with early stopping (patience 2) stops two epochs after the best one, as
  // fastai's EarlyStoppingCallback does, with the same epochs up to there.
  Workspace early(overfitting_config(12));
  const CommandResult r = early.train("--set train.early_stopping.patience=2");
  // train.early_stopping.patience given alone makes the section: monitor valid_mse, min_delta 0.
  expect_ok(r);
  const std::vector<double> stopped = valid_mse_of(early.run_dir);
  ASSERT_EQ(stopped.size(), static_cast<size_t>(best + 3));
  for (size_t k = 0; k < stopped.size(); ++k) EXPECT_DOUBLE_EQ(stopped[k], curve[k]) << k;
  // A printed summary names the stop and the best checkpoint (a fresh run dir, not --quiet).
  const CommandResult loud = run_collab("train " + shell_quote(early.config) + " --run-dir " +
                                        shell_quote(early.path("loud")) +
                                        " --set train.early_stopping.patience=2");
  expect_ok(loud);
  EXPECT_TRUE(contains(loud.out, "early stopping: " + std::to_string(best + 3) + " of 12 epochs"))
      << loud.out;
  EXPECT_TRUE(contains(loud.out, "best epoch " + std::to_string(best) + " (valid_mse"))
      << loud.out;
  EXPECT_TRUE(contains(loud.out, "best.ckpt")) << loud.out;

  // Resuming the finished early-stopped run trains nothing more.
  const CommandResult resumed = run_collab("resume " + shell_quote(early.run_dir));
  expect_ok(resumed);
  EXPECT_EQ(valid_mse_of(early.run_dir).size(), stopped.size());
  EXPECT_TRUE(contains(resumed.out, "early stopping")) << resumed.out;
}

TEST(BestEpoch, ConfigErrorsNameTheKey) {
  Workspace ws(overfitting_config(2));
  expect_one_line_error(ws.train("--set checkpoint.best=valid_loss"), "train",
                        {"checkpoint.best", "\"valid_mse\"", "\"valid_loss\""});
  expect_one_line_error(ws.train("--set train.early_stopping.patience=0"), "train",
                        {"train.early_stopping.patience"});
  expect_one_line_error(ws.train("--set train.early_stopping.min_delta=-1"), "train",
                        {"train.early_stopping.min_delta"});
  expect_one_line_error(ws.train("--set train.early_stopping.monitor=accuracy"), "train",
                        {"train.early_stopping.monitor", "\"accuracy\""});
  expect_one_line_error(ws.train("--set train.early_stopping.wait=3"), "train",
                        {"train.early_stopping.wait"});
}

}  // namespace test_best_epoch
