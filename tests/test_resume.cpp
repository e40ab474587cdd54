// Resuming: a run stopped at any checkpoint (an epoch end, mid-epoch, or killed with SIGKILL) and
// resumed finishes bit-identical to the same run left alone (on CPU, one thread): the final
// checkpoints' tensors are torch::equal and metrics.jsonl holds the same numbers. Resuming with
// another architecture, batch size or data is refused with a one-line error saying why.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "collab/train/run_checkpoints.h"
#include "collab/common/error.h"
#include "collab/models/registry.h"
#include "collab/train/checkpoint.h"
#include "test_support.h"

namespace test_resume {

namespace fs = std::filesystem;
using collab::json;
using namespace collab::test;  // the shared helpers: test_support.h

namespace {

// 400 ratings: 320 train, 20 batches of 16 an epoch, 80 steps in 4 epochs; checkpoints every 7
// steps and at each epoch end, all kept.
json config_for(const json& model, int epochs = 4) {
  return {{"data", {{"ratings", "ratings.tsv"}}},
          {"model", model},
          {"train", {{"epochs", epochs}, {"batch_size", 16}, {"threads", 1}, {"lr_max", 1e-2}}},
          {"checkpoint", {{"every_epochs", 1}, {"every_steps", 7}, {"keep_last", 0}}}};
}

const json kDotProductBias = {{"arch", "DotProductBias"}, {"n_factors", 4}, {"y_range", {0, 5.5}}};

// config.json and ratings.tsv (DotProductBias on 400 ratings unless given); trains quietly, each
// run into a folder of its own (train_into).
struct Workspace : collab::test::Workspace {
  explicit Workspace(const json& config_json = config_for(kDotProductBias),
                     const std::string& ratings_text = synthetic_ratings(400, 30, 40,
                                                                         /*seed=*/11))
      : collab::test::Workspace(config_json, ratings_text, "collab-resume") {
    train_options = "--quiet";
  }
};

std::vector<int64_t> checkpoint_steps(const std::string& run_dir) {
  std::vector<int64_t> steps;
  for (const auto& e : fs::directory_iterator(collab::checkpoints_dir(run_dir))) {
    const std::string name = e.path().filename().string();
    if (name.rfind("ckpt-", 0) == 0) steps.push_back(std::stoll(name.substr(5, 10)));
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

std::string checkpoint_path(const std::string& run_dir, int64_t step) {
  return collab::checkpoints_dir(run_dir) + "/" + collab::checkpoint_file_name(step);
}

// A copy of `from` as it was when the run stood at checkpoint `step`: its config, its complete
// metrics.jsonl (lines after the checkpoint included, as an interrupted run leaves them) and the
// checkpoints up to `step`, with `latest` naming that one.
void stop_at(const std::string& from, const std::string& to, int64_t step) {
  fs::create_directories(collab::checkpoints_dir(to));
  fs::copy_file(from + "/config.json", to + "/config.json");
  fs::copy_file(from + "/metrics.jsonl", to + "/metrics.jsonl");
  for (const int64_t s : checkpoint_steps(from)) {
    if (s <= step) fs::copy_file(checkpoint_path(from, s), checkpoint_path(to, s));
  }
  write_text(collab::checkpoints_dir(to) + "/latest", collab::checkpoint_file_name(step) + "\n");
}

// The two runs ended in the same state: final checkpoints equal tensor for tensor, and the same
// metrics (all but the times).
void expect_same_result(const std::string& straight, const std::string& resumed) {
  const std::vector<int64_t> steps = checkpoint_steps(straight);
  ASSERT_FALSE(steps.empty());
  ASSERT_EQ(read_text(collab::checkpoints_dir(resumed) + "/latest"),
            collab::checkpoint_file_name(steps.back()) + "\n");
  const collab::Checkpoint a = collab::read_checkpoint(checkpoint_path(straight, steps.back()));
  const collab::Checkpoint b = collab::read_checkpoint(checkpoint_path(resumed, steps.back()));
  expect_same_tensors(a.state.parameters, b.state.parameters);
  expect_same_tensors(a.state.buffers, b.state.buffers);
  ASSERT_EQ(a.state.optimizer.size(), b.state.optimizer.size());
  for (size_t k = 0; k < a.state.optimizer.size(); ++k) {
    EXPECT_TRUE(torch::equal(a.state.optimizer[k].exp_avg, b.state.optimizer[k].exp_avg));
    EXPECT_TRUE(torch::equal(a.state.optimizer[k].exp_avg_sq, b.state.optimizer[k].exp_avg_sq));
    EXPECT_EQ(a.state.optimizer[k].step, b.state.optimizer[k].step);
  }
  EXPECT_TRUE(torch::equal(a.state.cpu_generator, b.state.cpu_generator));
  EXPECT_TRUE(torch::equal(a.state.order_generator, b.state.order_generator));
  EXPECT_EQ(a.state.smoothed_loss_average, b.state.smoothed_loss_average);
  const std::vector<json> ma = metrics_without_seconds(straight),
                          mb = metrics_without_seconds(resumed);
  EXPECT_EQ(ma.size(), static_cast<size_t>(a.state.epoch));
  EXPECT_EQ(ma, mb);
}

json model_for(const std::string& arch) {
  if (arch == "DotProduct") return {{"arch", "DotProduct"}, {"n_factors", 4}};
  // The feature-based models keep their item features in a buffer: it must resume too.
  if (arch == "ContentBased") return {{"arch", "ContentBased"}, {"item_bias", true}};
  if (arch == "HybridDotProductBias") {
    return {{"arch", "HybridDotProductBias"}, {"n_factors", 4}, {"y_range", {0, 5.5}}};
  }
  if (arch == "DotProductBias") return kDotProductBias;
  // SVDpp's rated-item lists are buffers sized by the data: they must resume too.
  if (arch == "SVDpp") return {{"arch", "SVDpp"}, {"n_factors", 4}, {"y_range", {0, 5.5}}};
  // Without BatchNorm and dropout CollabNN trains through the fused step (train/fused_nn.h).
  if (arch == "PlainCollabNN") {
    return {{"arch", "CollabNN"}, {"user_embedding", 5}, {"item_embedding", 6}, {"layers", {8, 4}}};
  }
  // Dropout draws from torch's CPU generator and BatchNorm keeps buffers: both must resume.
  return {{"arch", "CollabNN"},        {"user_embedding", 5},
          {"item_embedding", 6},       {"layers", {8}},
          {"batchnorm", true},         {"dropout", {0.1}},
          {"embedding_dropout", 0.05}, {"y_range", {0, 5.5}}};
}

}  // namespace

class ResumeEachArch : public testing::TestWithParam<const char*> {};

// Step 40 ends epoch 2 of 4; step 49 is batch 9 of epoch 3.
TEST_P(ResumeEachArch, FromAnEpochEndAndFromMidEpochIsBitIdentical) {
  const std::string arch = GetParam();
  json config = config_for(model_for(arch));
  if (arch == "ContentBased" || arch == "HybridDotProductBias") config["data"]["items"] = "u.item";
  Workspace ws(config);
  if (config["data"].contains("items")) {
    // 40 items, each with one genre of five and a decade.
    std::string items;
    for (int i = 1; i <= 40; ++i) {
      std::string flags;
      for (int g = 0; g < 19; ++g) flags += g == 1 + i % 5 ? "|1" : "|0";
      items += std::to_string(i) + "|Item " + std::to_string(i) + "|01-Jan-19" +
               std::to_string(50 + i) + "||u" + flags + "\n";
    }
    write_text(ws.dir + "/u.item", items);
  }
  const std::string straight = ws.path("straight");
  expect_ok(ws.train_into(straight));
  const std::vector<int64_t> steps = checkpoint_steps(straight);
  EXPECT_EQ(steps,
            (std::vector<int64_t>{7, 14, 20, 21, 28, 35, 40, 42, 49, 56, 60, 63, 70, 77, 80}));

  const std::string at_epoch_end = ws.path("epoch-end");
  stop_at(straight, at_epoch_end, 40);
  expect_ok(run_collab("resume " + shell_quote(at_epoch_end) + " --quiet"));
  expect_same_result(straight, at_epoch_end);

  // Through `collab train --resume`, with the same config.
  const std::string mid_epoch = ws.path("mid-epoch");
  stop_at(straight, mid_epoch, 49);
  const collab::Checkpoint mid = collab::read_checkpoint(checkpoint_path(mid_epoch, 49));
  EXPECT_EQ(mid.state.epoch, 2);
  EXPECT_EQ(mid.state.batch, 9);
  EXPECT_EQ(mid.metrics.size(), 2u);
  expect_ok(ws.train_into(mid_epoch, "--resume"));
  expect_same_result(straight, mid_epoch);
}

INSTANTIATE_TEST_SUITE_P(Archs, ResumeEachArch,
                         testing::Values("DotProduct", "DotProductBias", "CollabNN",
                                         "PlainCollabNN", "ContentBased", "HybridDotProductBias",
                                         "SVDpp"));

// A real interruption: `collab train` killed with SIGKILL as soon as a mid-epoch checkpoint is
// on disk (possibly while it writes the next one), then resumed. CollabNN, as autograd steps are
// slow enough (~0.5 ms) for the kill to land well before the end, and its dropout must resume.
TEST(Resume, AfterSigkillIsBitIdentical) {
  // 4000 ratings: 200 batches an epoch, 600 steps, a checkpoint every 50.
  json config = config_for(model_for("CollabNN"), 3);
  config["checkpoint"] = {{"every_epochs", 1}, {"every_steps", 50}, {"keep_last", 2}};
  Workspace ws(config, synthetic_ratings(4000, 30, 40, /*seed=*/11));
  const std::string straight = ws.path("straight");
  expect_ok(ws.train_into(straight));

  const std::string killed = ws.path("killed");
  const std::string latest = collab::checkpoints_dir(killed) + "/latest";
  const pid_t pid = collab::test::start_collab({"train", ws.config, "--run-dir", killed, "--quiet"},
                                               ws.dir + "/killed.out");
  collab::test::wait_until([&] { return fs::exists(latest); }, 20);
  kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the run ended before it could be killed: " << read_text(ws.dir + "/killed.out");
  const int64_t stopped_at =
      collab::read_checkpoint(collab::latest_checkpoint(killed)).state.global_step;
  EXPECT_LT(stopped_at, 600);
  RecordProperty("killed_after_step", static_cast<int>(stopped_at));

  expect_ok(run_collab("resume " + shell_quote(killed) + " --quiet"));
  expect_same_result(straight, killed);
  // keep_last 2: only the last two remain, and no temporary file of the killed process.
  EXPECT_EQ(checkpoint_steps(killed), (std::vector<int64_t>{550, 600}));
  for (const auto& e : fs::directory_iterator(collab::checkpoints_dir(killed))) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

// Killed after its first checkpoint was renamed into place but before `latest` was written: the
// newest checkpoint is taken.
TEST(Resume, WithoutLatestTakesTheNewestCheckpoint) {
  Workspace ws;
  const std::string straight = ws.path("straight");
  expect_ok(ws.train_into(straight));
  const std::string first = ws.path("first");
  stop_at(straight, first, 7);
  fs::remove(collab::checkpoints_dir(first) + "/latest");
  expect_ok(run_collab("resume " + shell_quote(first) + " --quiet"));
  expect_same_result(straight, first);
}

// A checkpoint holds CPU tensors whatever device wrote it; `resume --device` continues on another
// device by copying them onto it. On this CPU-only build the path is exercised CPU -> CPU through
// "auto" (which resolves to the CPU here): the run must end exactly as if left alone, and the
// saved config must say the device it now trains on.
TEST(Resume, OnAnotherDeviceContinuesTheRun) {
  Workspace ws;
  const std::string straight = ws.path("straight");
  expect_ok(ws.train_into(straight));
  const std::string moved = ws.path("moved");
  stop_at(straight, moved, 49);
  expect_ok(run_collab("resume " + shell_quote(moved) + " --device auto --quiet"));
  expect_same_result(straight, moved);
  EXPECT_EQ(json::parse(read_text(moved + "/config.json"))["train"]["device"], "auto");
}

TEST(Resume, OnADeviceThisBuildLacksIsAOneLineError) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has CUDA";
  Workspace ws(config_for(kDotProductBias, 1));
  const std::string run = ws.path("run");
  expect_ok(ws.train_into(run));
  expect_one_line_error(run_collab("resume " + shell_quote(run) + " --device cuda:1"), "resume",
                        {"train.device", "cuda:1", "no usable CUDA"});
  expect_one_line_error(run_collab("resume " + shell_quote(run) + " --device tpu"), "resume",
                        {"train.device", "\"tpu\""});
}

TEST(Resume, MoreEpochsContinuesWithARecomputedSchedule) {
  Workspace ws(config_for(kDotProductBias, 2));
  const std::string run = ws.path("run");
  expect_ok(ws.train_into(run));
  expect_ok(run_collab("resume " + shell_quote(run) + " --epochs 3 --quiet"));
  EXPECT_EQ(metrics_without_seconds(run).size(), 3u);
  EXPECT_EQ(json::parse(read_text(run + "/config.json"))["train"]["epochs"], 3);
  EXPECT_EQ(collab::read_checkpoint(collab::latest_checkpoint(run)).state.global_step, 60);

  expect_one_line_error(run_collab("resume " + shell_quote(run) + " --epochs 2"), "resume",
                        {"--epochs 2", "epoch 3"});
}

TEST(Resume, RefusesAnotherArchitecture) {
  Workspace ws(config_for(kDotProductBias, 1));
  const std::string run = ws.path("run");
  expect_ok(ws.train_into(run));
  ws.write_config(config_for(model_for("CollabNN"), 1));
  expect_one_line_error(ws.train_into(run, "--resume"), "train",
                        {"cannot resume", checkpoint_path(run, 20), "model.arch", "\"CollabNN\"",
                         "\"DotProductBias\""});
  ws.write_config(
      config_for({{"arch", "DotProductBias"}, {"n_factors", 8}, {"y_range", {0, 5.5}}}, 1));
  expect_one_line_error(ws.train_into(run, "--resume"), "train", {"model.n_factors", "8", "4"});
}

TEST(Resume, RefusesAnotherBatchSize) {
  Workspace ws(config_for(kDotProductBias, 1));
  const std::string run = ws.path("run");
  expect_ok(ws.train_into(run));
  json other_batch = config_for(kDotProductBias, 1);
  other_batch["train"]["batch_size"] = 32;
  ws.write_config(other_batch);
  expect_one_line_error(ws.train_into(run, "--resume"), "train", {"train.batch_size", "32", "16"});
}

TEST(Resume, RefusesChangedData) {
  Workspace ws(config_for(kDotProductBias, 1));
  const std::string run = ws.path("run");
  expect_ok(ws.train_into(run));
  std::string ratings = synthetic_ratings(400, 30, 40, /*seed=*/11);

  // One rating changed: same vocabularies, other data.
  std::string changed = ratings;
  const size_t tab = changed.find('\t', changed.find('\t') + 1);
  changed[tab + 1] = changed[tab + 1] == '5' ? '4' : '5';
  write_text(ws.ratings, changed);
  expect_one_line_error(run_collab("resume " + shell_quote(run)), "resume",
                        {"cannot resume", checkpoint_path(run, 20), "data fingerprint"});

  // The original data resumes (here: nothing left to train).
  write_text(ws.ratings, ratings);
  expect_ok(run_collab("resume " + shell_quote(run) + " --quiet"));
}

TEST(Resume, RefusesOtherVocabularies) {
  Workspace ws(config_for(kDotProductBias, 1));
  const std::string run = ws.path("run");
  expect_ok(ws.train_into(run));
  // A new user: the vocabularies no longer match.
  write_text(ws.ratings, synthetic_ratings(400, 30, 40, /*seed=*/11) + "999\t1\t3\t880009999\n");
  expect_one_line_error(ws.train_into(run, "--resume"), "train",
                        {"cannot resume", "31 users", "30 users"});
}

TEST(Resume, DamagedOrMissingCheckpointsAreOneLineErrors) {
  Workspace ws(config_for(kDotProductBias, 2));
  const std::string run = ws.path("run");
  expect_ok(ws.train_into(run));

  // A fresh train into a run dir with checkpoints would mix two runs: refused.
  expect_one_line_error(ws.train_into(run), "train", {run, "--resume"});

  const std::string last = checkpoint_path(run, 40);
  std::string bytes = read_text(last);
  bytes[bytes.size() / 2] ^= 1;
  write_text(last, bytes);
  expect_one_line_error(run_collab("resume " + shell_quote(run)), "resume", {last, "corrupted"});
  // The previous checkpoint is still whole.
  EXPECT_EQ(collab::read_checkpoint(checkpoint_path(run, 35)).state.global_step, 35);
}

TEST(Resume, NothingToResumeFrom) {
  Workspace ws;
  const std::string empty = ws.path("empty");
  fs::create_directories(empty);
  expect_one_line_error(run_collab("resume " + shell_quote(empty)), "resume",
                        {empty, "no checkpoint to resume from"});
  expect_one_line_error(ws.train_into(empty, "--resume"), "train",
                        {"no checkpoint to resume from"});
  expect_one_line_error(run_collab("train " + shell_quote(ws.config) + " --resume"), "train",
                        {"--resume needs --run-dir"});
}

TEST(Resume, CheckpointConfigIsStrict) {
  json config = config_for(kDotProductBias, 1);
  config["checkpoint"]["every_step"] = 3;
  Workspace ws(config);
  expect_one_line_error(ws.train_into(ws.path("run")), "train",
                        {"checkpoint.every_step", "unknown key"});
  config = config_for(kDotProductBias, 1);
  config["checkpoint"]["keep_last"] = -1;
  ws.write_config(config);
  expect_one_line_error(ws.train_into(ws.path("run")), "train", {"checkpoint.keep_last"});
}

TEST(Resume, NoCheckpointsWhenBothPeriodsAreZero) {
  json config = config_for(kDotProductBias, 1);
  config["checkpoint"] = {{"every_epochs", 0}, {"every_steps", 0}};
  Workspace ws(config);
  const std::string run = ws.path("run");
  expect_ok(ws.train_into(run));
  EXPECT_FALSE(fs::exists(collab::checkpoints_dir(run)));
}

}  // namespace test_resume
