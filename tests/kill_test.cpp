// The kill test: `collab train` with mid-epoch checkpoints, killed with SIGKILL at a random moment
// (one per run), then continued with `collab resume` (or trained again from the start when the
// kill came before the first checkpoint); every run must end bit-identical to one never killed:
// the final checkpoints' tensors torch::equal and metrics.jsonl the same but for the times.
// Prints one line per run and "N/N bit-identical"; exits 1 if any run differs.
//
//   collab_kill_test [--runs 20] [--seed S] [--keep DIR] [--optimizer adam|sgd|sparse_adam]
// With sgd or sparse_adam the run is the sparse path's: a round of its block grid is a step.
// (scripts/kill_test.sh builds and runs it; CTest runs it under the label `kill`.)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "collab/train/run_checkpoints.h"
#include "collab/train/checkpoint.h"
#include "test_support.h"

namespace fs = std::filesystem;
using collab::test::CommandResult;
using collab::test::run_collab;
using collab::test::shell_quote;
using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// 20000 ratings of 600 users and 400 items: 16000 train, 250 steps an epoch of 64, 1500 steps
// in 6 epochs, a checkpoint every 25 steps (keeping 3). DotProductBias with the fused step,
// so much of a run's time is its checkpoints, written (and synced) as a real run writes them.
std::string ratings_text() {
  std::mt19937 rng(17);
  std::string text;
  for (int i = 0; i < 20000; ++i) {
    text += std::to_string(rng() % 600 + 1) + "\t" + std::to_string(rng() % 400 + 1) + "\t" +
            std::to_string(rng() % 5 + 1) + "\t" + std::to_string(880000000 + i) + "\n";
  }
  return text;
}

const json kConfig = {
    {"data", {{"ratings", "ratings.tsv"}}},
    {"model", {{"arch", "DotProductBias"}, {"n_factors", 32}, {"y_range", {0, 5.5}}}},
    {"train", {{"epochs", 6}, {"batch_size", 64}, {"threads", 1}, {"lr_max", 5e-3}}},
    {"checkpoint", {{"every_epochs", 1}, {"every_steps", 25}, {"keep_last", 3}}}};

// The sparse path: a pass over 16000 ratings takes under a millisecond, so many more of them (4
// rounds of a 4x4 grid each, on 2 threads), with a checkpoint every 37 rounds, mid-pass too.
json sparse_config(const std::string& optimizer) {
  json config = kConfig;
  config["train"] = {{"epochs", 600}, {"batch_size", 64}, {"threads", 2},
                     {"blocks", 4},    {"lr_max", 5e-3},   {"optimizer", optimizer}};
  config["checkpoint"] = {{"every_epochs", 0}, {"every_steps", 37}, {"keep_last", 3}};
  return config;
}

std::string train_args(const std::string& config, const std::string& run_dir) {
  return "train " + shell_quote(config) + " --run-dir " + shell_quote(run_dir) + " --quiet";
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 20;
  uint64_t seed = std::random_device{}();
  std::string keep, optimizer = "adam";
  for (int k = 1; k + 1 < argc; k += 2) {
    if (std::strcmp(argv[k], "--runs") == 0)
      runs = std::atoi(argv[k + 1]);
    else if (std::strcmp(argv[k], "--seed") == 0)
      seed = std::strtoull(argv[k + 1], nullptr, 10);
    else if (std::strcmp(argv[k], "--keep") == 0)
      keep = argv[k + 1];
    else if (std::strcmp(argv[k], "--optimizer") == 0)
      optimizer = argv[k + 1];
  }
  const std::string dir = keep.empty() ? collab::test::temp_dir("collab-kill") : keep;
  fs::create_directories(dir);
  const std::string config = dir + "/config.json";
  collab::test::write_text(config,
                           (optimizer == "adam" ? kConfig : sparse_config(optimizer)).dump(2));
  collab::test::write_text(dir + "/ratings.tsv", ratings_text());
  std::printf("kill test (%s): %d runs, seed %llu (rerun with --seed %llu), in %s\n",
              optimizer.c_str(), runs,
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed),
              dir.c_str());

  // The uninterrupted run, timed: when its first checkpoint appears and when it ends.
  const std::string straight = dir + "/straight";
  auto start = std::chrono::steady_clock::now();
  const pid_t straight_pid = collab::test::start_collab(
      {"train", config, "--run-dir", straight, "--quiet"}, straight + ".log");
  double first_checkpoint = -1;
  int status = 0;
  while (waitpid(straight_pid, &status, WNOHANG) == 0) {
    if (first_checkpoint < 0 && fs::exists(collab::checkpoints_dir(straight) + "/latest")) {
      first_checkpoint = seconds_since(start);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  const double straight_seconds = seconds_since(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || first_checkpoint < 0) {
    std::printf("the uninterrupted run failed: %s\n",
                collab::test::read_text(straight + ".log").c_str());
    return 1;
  }
  std::printf("uninterrupted run: %.2f s, first checkpoint after %.2f s, final %s",
              straight_seconds, first_checkpoint,
              collab::test::read_text(straight + ".log").c_str());

  std::mt19937_64 rng(seed);
  // Kill moments fall while it trains: from a little before the first checkpoint (startup and
  // data loading take most of the time before it, and a kill there only means training again)
  // to just before the end.
  double earliest = 0.8 * first_checkpoint, latest = 0.98 * straight_seconds;
  int identical = 0;
  for (int run = 1; run <= runs; ++run) {
    const std::string run_dir = dir + "/run-" + std::to_string(run);
    const std::string log = run_dir + ".log";
    int attempts = 0;
    double killed_after = 0;
    bool killed = false;
    // A run that ended before its kill proves nothing: draw another moment, before the time that
    // run took (the machine's speed changes from run to run, with other processes' load).
    while (!killed && attempts++ < 5) {
      fs::remove_all(run_dir);
      killed_after = std::uniform_real_distribution<double>(earliest, latest)(rng);
      start = std::chrono::steady_clock::now();
      const pid_t pid =
          collab::test::start_collab({"train", config, "--run-dir", run_dir, "--quiet"}, log);
      int status = 0;
      pid_t ended = 0;
      while ((ended = waitpid(pid, &status, WNOHANG)) == 0 && seconds_since(start) < killed_after) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      if (ended == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
      }
      killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      if (!killed) {
        latest = 0.98 * seconds_since(start);
        earliest = std::min(earliest, 0.5 * latest);
      }
    }
    if (!killed) {
      std::printf("run %2d: finished before every kill moment drawn\n", run);
      continue;
    }
    std::string at = "before the first checkpoint";
    std::string how = "trained again";
    CommandResult r;
    if (fs::exists(run_dir) && collab::has_checkpoints(run_dir)) {
      try {
        at = "at checkpoint step " +
             std::to_string(
                 collab::read_checkpoint(collab::latest_checkpoint(run_dir)).state.global_step);
      } catch (const std::exception& e) {
        at = std::string("with an unreadable latest checkpoint (") + e.what() + ")";
      }
      how = "resumed";
      r = run_collab("resume " + shell_quote(run_dir) + " --quiet");
    } else {
      r = run_collab(train_args(config, run_dir));
    }
    const std::string difference = r.exit_code == 0
                                       ? collab::test::final_state_difference(straight, run_dir)
                                       : "exit " + std::to_string(r.exit_code) + ": " + r.err;
    const bool same = difference.empty();
    identical += same;
    std::printf("run %2d: SIGKILL after %.3f s %s, %s: %s\n", run, killed_after, at.c_str(),
                how.c_str(), same ? "bit-identical" : ("DIFFERS: " + difference).c_str());
    std::fflush(stdout);
  }
  std::printf("%d/%d bit-identical\n", identical, runs);
  return identical == runs ? 0 : 1;
}
