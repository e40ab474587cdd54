// `collab launch` and distributed `collab train` as processes on loopback Gloo: two workers
// train like one process and rank 0 writes checkpoints that one process resumes; a worker that
// is killed or hangs makes the other fail with a message within train.distributed.timeout_s,
// leaving the last checkpoint intact; launch stops the rest when one worker fails.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "collab/train/run_checkpoints.h"
#include "collab/common/config_reader.h"
#include "collab/train/checkpoint.h"
#include "collab/train/distributed.h"
#include "test_support.h"

extern char** environ;  // POSIX: the process's environment, at global scope

namespace test_launch {

namespace fs = std::filesystem;
using collab::json;
using namespace collab::test;  // the shared helpers: test_support.h

namespace {

using Clock = std::chrono::steady_clock;

// `n_ratings` ratings of 60 users and 80 items, DotProductBias trained with the `train` section.
struct Workspace : collab::test::Workspace {
  Workspace(int n_ratings, const json& train)
      : collab::test::Workspace(
            json({{"data", {{"ratings", "ratings.tsv"}}},
                  {"model", {{"arch", "DotProductBias"}, {"n_factors", 8}, {"y_range", {0, 5.5}}}},
                  {"train", train},
                  {"checkpoint", {{"every_epochs", 1}, {"keep_last", 0}}}}),
            synthetic_ratings(n_ratings, 60, 80, /*seed=*/5), "collab-launch") {}
};

// A `collab` process with extra environment variables and its output in files.
struct Child {
  pid_t pid = -1;
  std::string out_path, err_path;
  int code = -1;

  Child(const std::vector<std::string>& args, const std::vector<std::string>& extra_env,
        const std::string& dir, const std::string& name)
      : out_path(dir + "/" + name + ".out"), err_path(dir + "/" + name + ".err") {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    for (const auto& e : extra_env) env.push_back(e);
    std::vector<std::string> argv_s = {COLLAB_BIN};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid = ::fork();
    if (pid == 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      ::execve(COLLAB_BIN, argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(out);
    ::close(err);
  }
  // Waits up to `limit`; false if still running then.
  bool wait_for(std::chrono::seconds limit) {
    return wait_until(
        [&] {
          int status = 0;
          if (::waitpid(pid, &status, WNOHANG) != pid) return false;
          code = exit_code_of(status);
          return true;
        },
        static_cast<double>(limit.count()), std::chrono::milliseconds(20));
  }
  void kill_now() {
    if (code >= 0) return;
    ::kill(pid, SIGKILL);
    wait_for(std::chrono::seconds(10));
  }
  std::string out() const { return read_text(out_path); }
  std::string err() const { return read_text(err_path); }
};

// The child processes of `pid` (launch's workers), from /proc.
std::vector<pid_t> children_of(pid_t pid) {
  std::istringstream children(
      read_text("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children"));
  std::vector<pid_t> pids;
  for (pid_t p; children >> p;) pids.push_back(p);
  return pids;
}

bool wait_for_file(const std::string& path, std::chrono::seconds limit) {
  return wait_until([&] { return fs::exists(path); }, static_cast<double>(limit.count()),
                    std::chrono::milliseconds(20));
}

// Two ranks of `collab train` started by hand, as torchrun on two machines would.
std::vector<Child> start_two_workers(const Workspace& w, const std::string& run_dir) {
  const std::string port = std::to_string(free_port());
  std::vector<Child> workers;
  for (int rank = 0; rank < 2; ++rank) {
    workers.emplace_back(
        std::vector<std::string>{"train", w.config, "--run-dir", run_dir},
        std::vector<std::string>{"MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port, "WORLD_SIZE=2",
                                 "RANK=" + std::to_string(rank),
                                 "LOCAL_RANK=" + std::to_string(rank), "LOCAL_WORLD_SIZE=2"},
        w.dir, "rank" + std::to_string(rank));
  }
  return workers;
}

// A run long enough to be interrupted: 500 steps an epoch, 400 epochs.
const json kLongRun = {
    {"epochs", 400}, {"batch_size", 8}, {"threads", 1}, {"distributed", {{"timeout_s", 6}}}};

}  // namespace

TEST(Launch, TwoWorkersTrainLikeOneProcessAndOneProcessResumes) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  Workspace w(3000, {{"epochs", 3}, {"batch_size", 32}, {"threads", 1}, {"lr_max", 1e-2}});
  const std::string two = w.dir + "/two", one = w.dir + "/one";
  const CommandResult r2 = run_collab("launch --nproc 2 -- train " + shell_quote(w.config) +
                                      " --run-dir " + shell_quote(two));
  ASSERT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("[rank 0] distributed: 2 ranks (gloo"), std::string::npos) << r2.out;
  EXPECT_EQ(r2.out.find("[rank 1]"), std::string::npos) << "only rank 0 prints: " << r2.out;
  const std::string metrics = read_text(two + "/metrics.jsonl");
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 3)
      << "one metrics line per epoch, from rank 0 alone";

  const CommandResult r1 =
      run_collab("train " + shell_quote(w.config) + " --run-dir " + shell_quote(one));
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  // Two ranks sum the same gradients as one process (which here also uses the fused kernel):
  // only float rounding differs.
  EXPECT_NEAR(last_valid_mse(r2.out), last_valid_mse(r1.out), 2e-3) << r2.out << r1.out;

  // Rank 0's checkpoints hold the whole run: point `latest` back at epoch 2 and let one process
  // train the last epoch.
  const auto checkpoints = collab::checkpoints_dir(two);
  const std::vector<std::string> names = checkpoint_file_names(two);
  ASSERT_EQ(names.size(), 3u);
  write_text(checkpoints + "/latest", names[1] + "\n");
  const CommandResult resumed =
      run_collab("train " + shell_quote(w.config) + " --run-dir " + shell_quote(two) + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("resuming from"), std::string::npos);
  EXPECT_NEAR(last_valid_mse(resumed.out), last_valid_mse(r2.out), 2e-3) << resumed.out;
}

TEST(Launch, TwoWorkersOfTheSparsePathSaveOneProcessCheckpointsBitForBit) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  Workspace w(3000, {{"epochs", 3}, {"optimizer", "sgd"}, {"blocks", 4}, {"threads", 1},
                     {"lr_max", 0.05}});
  const std::string two = w.dir + "/two", one = w.dir + "/one";
  const CommandResult r2 = run_collab("launch --nproc 2 -- train " + shell_quote(w.config) +
                                      " --run-dir " + shell_quote(two));
  ASSERT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("[rank 0] bytes_sent "), std::string::npos) << r2.out;
  const CommandResult r1 =
      run_collab("train " + shell_quote(w.config) + " --run-dir " + shell_quote(one));
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  // DSGD's rotation reproduces the one-process block schedule: the same checkpoint, every bit.
  EXPECT_EQ(final_state_difference(two, one), "");
  EXPECT_EQ(last_valid_mse(r2.out), last_valid_mse(r1.out)) << r2.out << r1.out;

  // One process finishes the two-process run from its epoch-2 checkpoint, to the same end.
  const std::vector<std::string> names = checkpoint_file_names(two);
  ASSERT_EQ(names.size(), 3u);
  write_text(collab::checkpoints_dir(two) + "/latest", names[1] + "\n");
  const CommandResult resumed =
      run_collab("train " + shell_quote(w.config) + " --run-dir " + shell_quote(two) + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(final_state_difference(two, one), "");
}

TEST(Launch, KilledWorkerMakesTheOtherFailWithinTheTimeout) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  Workspace w(5000, kLongRun);
  const std::string run_dir = w.dir + "/run";
  auto workers = start_two_workers(w, run_dir);
  ASSERT_TRUE(wait_for_file(run_dir + "/checkpoints/latest", std::chrono::seconds(120)))
      << workers[0].err() << workers[1].err();
  workers[1].kill_now();
  const auto killed = Clock::now();
  const bool ended = workers[0].wait_for(std::chrono::seconds(6 + 20));
  const double seconds = std::chrono::duration<double>(Clock::now() - killed).count();
  workers[0].kill_now();
  ASSERT_TRUE(ended) << "rank 0 still running 26 s after rank 1 was killed";
  EXPECT_NE(workers[0].code, 0);
  EXPECT_NE(workers[0].err().find("collab train: error: rank 0 of 2: allreduce failed"),
            std::string::npos)
      << workers[0].err();
  std::cout << "rank 0 stopped " << seconds << " s after rank 1 was killed\n";
  // The checkpoint `latest` names reads back whole (read_checkpoint verifies its SHA-256).
  const collab::Checkpoint c = collab::read_checkpoint(collab::latest_checkpoint(run_dir));
  EXPECT_GE(c.state.epoch, 1);
}

TEST(Launch, HungWorkerMakesTheOtherFailWithinTheTimeout) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  Workspace w(5000, kLongRun);
  const std::string run_dir = w.dir + "/run";
  auto workers = start_two_workers(w, run_dir);
  ASSERT_TRUE(wait_for_file(run_dir + "/checkpoints/latest", std::chrono::seconds(120)))
      << workers[0].err() << workers[1].err();
  ::kill(workers[1].pid, SIGSTOP);  // alive, holding its sockets open, answering nothing
  const auto stopped = Clock::now();
  const bool ended = workers[0].wait_for(std::chrono::seconds(6 + 20));
  const double seconds = std::chrono::duration<double>(Clock::now() - stopped).count();
  workers[0].kill_now();
  workers[1].kill_now();
  ASSERT_TRUE(ended) << "rank 0 still running 26 s after rank 1 hung";
  EXPECT_NE(workers[0].code, 0);
  EXPECT_GE(seconds, 5.0) << "rank 0 gave up before train.distributed.timeout_s (6 s)";
  EXPECT_NE(workers[0].err().find("rank 0 of 2: allreduce failed"), std::string::npos)
      << workers[0].err();
  EXPECT_NE(workers[0].err().find("timeout_s is 6"), std::string::npos);
  std::cout << "rank 0 stopped " << seconds << " s after rank 1 hung (timeout 6 s)\n";
  collab::read_checkpoint(collab::latest_checkpoint(run_dir));
}

TEST(Launch, StopsTheOtherWorkersWhenOneDies) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  json train = kLongRun;
  train["distributed"]["timeout_s"] = 600;  // launch, not the timeout, must end rank 0
  Workspace w(5000, train);
  const std::string run_dir = w.dir + "/run";
  Child launch(
      {"launch", "--nproc", "2", "--grace", "2", "--", "train", w.config, "--run-dir", run_dir}, {},
      w.dir, "launch");
  ASSERT_TRUE(wait_for_file(run_dir + "/checkpoints/latest", std::chrono::seconds(120)))
      << launch.err();
  // The workers are launch's children; kill the second one.
  const std::vector<pid_t> pids = children_of(launch.pid);
  ASSERT_EQ(pids.size(), 2u);
  ::kill(pids[1], SIGKILL);
  const bool ended = launch.wait_for(std::chrono::seconds(30));
  launch.kill_now();
  ASSERT_TRUE(ended) << launch.err();
  EXPECT_NE(launch.code, 0);
  EXPECT_NE(launch.err().find("collab launch: rank 1 was killed by signal 9"), std::string::npos)
      << launch.err();
  for (const pid_t p : pids) EXPECT_NE(::kill(p, 0), 0) << "worker " << p << " outlived launch";
}

// Ctrl-C at the terminal signals launch alone (its workers have a process group of their own);
// launch passes it on, the ranks agree to stop after the same step, rank 0 checkpoints it, and
// every process exits 130 without an allreduce failure.
TEST(Launch, InterruptStopsEveryRankAtOneStepWithACheckpoint) {
  if (!collab::distributed_available()) GTEST_SKIP() << "this build has no distributed support";
  json train = kLongRun;
  train["distributed"]["timeout_s"] = 600;  // a rank left behind would hang, not fail fast
  Workspace w(5000, train);
  const std::string run_dir = w.dir + "/run";
  Child launch({"launch", "--nproc", "2", "--", "train", w.config, "--run-dir", run_dir}, {}, w.dir,
               "launch");
  ASSERT_TRUE(wait_for_file(run_dir + "/checkpoints/latest", std::chrono::seconds(120)))
      << launch.err();
  const std::vector<pid_t> pids = children_of(launch.pid);
  ASSERT_EQ(pids.size(), 2u);
  for (const pid_t p : pids) EXPECT_EQ(::getpgid(p), p) << "worker " << p << "'s process group";
  ::kill(launch.pid, SIGINT);
  const bool ended = launch.wait_for(std::chrono::seconds(60));
  launch.kill_now();
  ASSERT_TRUE(ended) << launch.err();
  EXPECT_EQ(launch.code, 130) << launch.err();
  const std::string err = launch.err();
  EXPECT_EQ(err.find("allreduce failed"), std::string::npos) << err;
  EXPECT_EQ(err.find("second interrupt"), std::string::npos) << err;
  const size_t at = err.find("[rank 0] collab: interrupted by SIGINT at epoch ");
  ASSERT_NE(at, std::string::npos) << err;
  // "... at epoch E, step S of N; checkpoint saved: PATH": the newest checkpoint is step S.
  const size_t step_at = err.find(", step ", at) + 7;
  const int64_t step = std::stoll(err.substr(step_at));
  const collab::Checkpoint c = collab::read_checkpoint(collab::latest_checkpoint(run_dir));
  EXPECT_EQ(c.state.global_step, step) << err;
  for (const pid_t p : pids) EXPECT_NE(::kill(p, 0), 0) << "worker " << p << " outlived launch";
}

TEST(Launch, RefusesBadArguments) {
  const CommandResult no_command = run_collab("launch --nproc 2");
  EXPECT_EQ(no_command.exit_code, 1);
  EXPECT_NE(no_command.err.find("need a command after --"), std::string::npos) << no_command.err;
  const CommandResult zero = run_collab("launch --nproc 0 -- train x.json");
  EXPECT_EQ(zero.exit_code, 1);
  EXPECT_NE(zero.err.find("--nproc: expected 1 to 1024 workers, got 0"), std::string::npos);
  const CommandResult output = run_collab("launch --output some -- train x.json");
  EXPECT_NE(output.err.find("--output: expected all or rank0"), std::string::npos);
}

TEST(Launch, ForwardsAWorkersErrorAndItsExitCode) {
  const CommandResult r = run_collab("launch --nproc 2 -- train /nonexistent/config.json");
  EXPECT_EQ(r.exit_code, 1);
  // Both workers fail on the missing file; whichever fails first makes the launcher stop the
  // other, possibly before its error line is out, so one such line is all that is certain.
  EXPECT_NE(r.err.find("] collab train: error: /nonexistent/config.json"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("collab launch: rank "), std::string::npos) << r.err;
}

TEST(Launch, DistributedTrainRefusesNcclOnTheCpu) {
  Workspace w(400, {{"epochs", 1}, {"batch_size", 16}, {"distributed", {{"backend", "nccl"}}}});
  const CommandResult r =
      run_collab("train " + shell_quote(w.config) + " --run-dir " + shell_quote(w.dir + "/run"),
                 "WORLD_SIZE=2 RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("backend \"nccl\" needs train.device on CUDA"), std::string::npos) << r.err;
}

}  // namespace test_launch
