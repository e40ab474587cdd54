// SIGINT and SIGTERM during `collab train`: the run finishes the current step, writes a
// checkpoint, prints the resume command and exits 130 or 143; `collab resume` then ends
// bit-identical to the run left alone. A second SIGINT exits at once, leaving every checkpoint on
// disk whole.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "collab/common/file_io.h"
#include "collab/train/run_checkpoints.h"
#include "collab/train/checkpoint.h"
#include "test_support.h"

namespace test_interrupt {

namespace fs = std::filesystem;
using namespace collab::test;  // the shared helpers: test_support.h
using nlohmann::json;

namespace {

// CollabNN (autograd steps, dropout drawing from the CPU generator) on 4000 ratings: 200 steps
// an epoch, 600 in all, a checkpoint every 50.
json collab_nn_config() {
  return {{"data", {{"ratings", "ratings.tsv"}}},
          {"model",
           {{"arch", "CollabNN"},
            {"user_embedding", 5},
            {"item_embedding", 6},
            {"layers", {8}},
            {"dropout", {0.1}},
            {"y_range", {0, 5.5}}}},
          {"train", {{"epochs", 3}, {"batch_size", 16}, {"threads", 1}, {"lr_max", 1e-2}}},
          {"checkpoint", {{"every_epochs", 1}, {"every_steps", 50}, {"keep_last", 2}}}};
}

}  // namespace

class InterruptTraining : public testing::TestWithParam<int> {};

TEST_P(InterruptTraining, SavesACheckpointPrintsTheResumeCommandAndResumesBitIdentical) {
  const int signal = GetParam();
  Workspace ws(collab_nn_config(), synthetic_ratings(4000, 30, 40, /*seed=*/5));
  const std::string straight = ws.dir + "/straight";
  const CommandResult s = run_collab("train " + shell_quote(ws.config) + " --run-dir " +
                                     shell_quote(straight) + " --quiet");
  ASSERT_EQ(s.exit_code, 0) << s.err;

  const std::string run = ws.dir + "/interrupted", log = ws.dir + "/interrupted.log";
  const pid_t pid = collab::test::start_collab({"train", ws.config, "--run-dir", run}, log);
  // Training has started once the first checkpoint is there; a few ms later it is mid-epoch,
  // between two periodic checkpoints.
  const bool started =
      wait_until([&] { return fs::exists(collab::checkpoints_dir(run) + "/latest"); }, 30);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, signal);
  const int code = wait_exit_code(pid);
  const std::string output = read_text(log);
  ASSERT_TRUE(started) << output;
  ASSERT_EQ(code, 128 + signal) << output;

  const std::string name = signal == SIGINT ? "SIGINT" : "SIGTERM";
  EXPECT_TRUE(output.find("collab: " + name + " received: finishing the current step") !=
              std::string::npos)
      << output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      output, m,
      std::regex("collab: interrupted by " + name +
                 " at epoch ([0-9]+), step ([0-9]+) of 600; checkpoint saved: (\\S+)\n"
                 "continue with: collab resume (\\S+)\n")))
      << output;
  const int64_t step = std::stoll(m[2]);
  EXPECT_LT(step, 600);
  EXPECT_EQ(m[3].str(), collab::latest_checkpoint(run));
  EXPECT_EQ(m[4].str(), run);
  const collab::Checkpoint saved = collab::read_checkpoint(m[3].str());
  EXPECT_EQ(saved.state.global_step, step);
  EXPECT_EQ(saved.state.epoch, std::stoll(m[1]));
  RecordProperty("stopped_at_step", static_cast<int>(step));

  const CommandResult resumed = run_collab("resume " + shell_quote(run) + " --quiet");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(collab::test::final_state_difference(straight, run), "");
}

INSTANTIATE_TEST_SUITE_P(Signals, InterruptTraining, testing::Values(SIGINT, SIGTERM),
                         [](const testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGINT ? "SIGINT" : "SIGTERM");
                         });

// The second SIGINT comes while the first one's checkpoint is being written (a 50 MB checkpoint:
// serialising, hashing and syncing it takes a while): collab exits at once with 130, the
// checkpoint it was writing stays a temporary file, the earlier ones stay whole, and `collab
// resume` continues from the newest whole one.
TEST(Interrupt, SecondSigintExitsAtOnceLeavingTheCheckpointsWhole) {
  const json config = {
      {"data", {{"ratings", "ratings.tsv"}}},
      {"model", {{"arch", "DotProductBias"}, {"n_factors", 1000}, {"y_range", {0, 5.5}}}},
      {"train", {{"epochs", 1}, {"batch_size", 64}, {"threads", 1}}},
      {"checkpoint", {{"every_epochs", 1}, {"every_steps", 10}, {"keep_last", 1}}}};
  Workspace ws(config, synthetic_ratings(3000, 2000, 2000, /*seed=*/5));
  const std::string run = ws.dir + "/run", log = ws.dir + "/run.log";
  const pid_t pid = collab::test::start_collab({"train", ws.config, "--run-dir", run}, log);
  const bool started =
      wait_until([&] { return fs::exists(collab::checkpoints_dir(run) + "/latest"); }, 60);
  // Steps take ~20 ms here: a step after the periodic checkpoint is under way, so the first
  // SIGINT asks for a checkpoint of its own.
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  kill(pid, SIGINT);
  const bool first_seen =
      wait_until([&] { return read_text(log).find("SIGINT received") != std::string::npos; }, 10);
  kill(pid, SIGINT);
  const int code = wait_exit_code(pid);
  const std::string output = read_text(log);
  ASSERT_TRUE(started && first_seen) << output;
  EXPECT_EQ(code, 130) << output;
  EXPECT_NE(output.find("collab: second interrupt: exiting at once"), std::string::npos) << output;
  EXPECT_EQ(output.find("checkpoint saved"), std::string::npos)
      << "the first interrupt's checkpoint was complete before the second one came: " << output;

  const collab::Checkpoint whole = collab::read_checkpoint(collab::latest_checkpoint(run));
  EXPECT_GT(whole.state.global_step, 0);
  const CommandResult resumed = run_collab("resume " + shell_quote(run) + " --quiet");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  for (const auto& e : fs::directory_iterator(collab::checkpoints_dir(run))) {
    EXPECT_EQ(e.path().filename().string().find(collab::kTempFileSuffix), std::string::npos)
        << e.path();
  }
}

}  // namespace test_interrupt
