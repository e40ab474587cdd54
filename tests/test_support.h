// Helpers shared by the tests: where the shared data is, temporary folders, running `collab`.
#pragma once

#include <string>
#include <vector>

namespace collab::test {

// ../shared/data (MovieLens 100k and the fastai split), or "" when absent.
std::string shared_data_dir();
// A fresh empty folder under the system temp dir, removed at exit of the test process.
std::string temp_dir(const std::string& prefix = "collab-test");
// Writes `text` to `path`, creating folders.
void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);

struct CommandResult {
  int exit_code;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the built `collab` binary with `args` (shell-quoted by the caller) and captures output.
CommandResult run_collab(const std::string& args, const std::string& env = "");

// `n` tab-separated ratings "user item stars timestamp": users 1..`users` in turn, items
// (1..`items`) and stars (1-5) drawn from a generator seeded with `seed`, timestamps 880000000 +
// row.
std::string synthetic_ratings(int n, int users, int items, unsigned seed);

// `s` in single quotes for /bin/sh (for run_collab's args).
std::string shell_quote(const std::string& s);

// Starts the built `collab` binary with `args` (no shell) as a child process, its stdout and
// stderr going to `log_path`; returns its pid (wait for it with waitpid).
int start_collab(const std::vector<std::string>& args, const std::string& log_path);

// Where two runs' final states differ, or "" when they are the same: the checkpoint `latest`
// names in each (same step) with every tensor torch::equal (parameters, buffers, optimizer
// moments, generators), and metrics.jsonl the same but for the wall-clock seconds.
std::string final_state_difference(const std::string& run_dir, const std::string& other_run_dir);

}  // namespace collab::test

// Skips the current test with a message when MovieLens 100k is not in ../shared.
#define COLLAB_REQUIRE_SHARED_DATA()                                                      \
  do {                                                                                    \
    if (collab::test::shared_data_dir().empty())                                          \
      GTEST_SKIP() << "MovieLens 100k not found in " COLLAB_SHARED_DIR "/data; skipping"; \
  } while (0)
