// Helpers shared by the tests: where the shared data is, temporary folders, running `collab`
// (and what a run leaves behind), and the checks more than one test file makes. Every helper two
// test files need lives here, once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "collab/common/config_reader.h"
#include "collab/common/error.h"
#include "collab/models/collab_model.h"
#include "collab/train/adam.h"
#include "collab/train/fused_step.h"

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
// Runs `collab args`, expects exit code 0, and parses its stdout as JSON.
json run_collab_json(const std::string& args);

// The exit code a wait status stands for: 128 + N when killed by signal N, as a shell says.
int exit_code_of(int wait_status);
// Waits for child `pid` to end; its exit code (exit_code_of), or -1 when waitpid fails.
int wait_exit_code(pid_t pid);
// Polls `done` every `poll` until it holds (true) or `seconds` have passed (false).
bool wait_until(const std::function<bool()>& done, double seconds,
                std::chrono::microseconds poll = std::chrono::microseconds(200));

// A TCP port on loopback that nothing listens on now (for a Gloo rendezvous, or a refused
// connection).
int free_port();

// Sets or unsets (nullopt, nullptr) environment variables for its scope; the destructor puts
// back what each was before.
class ScopedEnv {
 public:
  ScopedEnv() = default;
  explicit ScopedEnv(const std::map<std::string, std::optional<std::string>>& values);
  ScopedEnv(const std::string& name, const char* value);
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv();
  void set(const std::string& name, const std::optional<std::string>& value);

 private:
  std::map<std::string, std::optional<std::string>> saved_;  // each variable's value before
};

// A MovieLens u.item line: id|title|date|video date|url|19 genre flags, those at `genres` set.
std::string item_line(const std::string& id, const std::string& title, const std::string& date,
                      std::initializer_list<int> genres);

// `n` tab-separated ratings "user item stars timestamp": users 1..`users` in turn, items
// (1..`items`) and stars (1-5) drawn from a generator seeded with `seed`, timestamps 880000000 +
// row.
std::string synthetic_ratings(int n, int users, int items, unsigned seed);

// The small catalogue the recommend tests train on, written into `dir`: u.item (items 1..30,
// "Movie N (19xx)", item 7's title with "&" and "<b>"), train.tsv (user u of 1..20 rates items
// u..u+9 mod 30, +1) and valid.tsv (item u+10 mod 30, +1).
void write_small_catalogue(const std::string& dir);

// Trains a HybridDotProductBias (run dir `dir`/hybrid) and a ContentBased (`dir`/content), both
// y_range [0, 5.5], on the config data section `data_json` for `epochs` epochs (bs 16, lr_max
// 0.03, wd 0.5, 1 thread), and exports the hybrid to `dir`/hybrid.pt: the feature models the
// content tests read.
void train_feature_models(const std::string& dir, const std::string& data_json, int epochs);

// `s` in single quotes for /bin/sh (for run_collab's args).
std::string shell_quote(const std::string& s);

// Starts the built `collab` binary with `args` (no shell) as a child process, its stdout and
// stderr going to `log_path`; returns its pid (wait for it with waitpid).
int start_collab(const std::vector<std::string>& args, const std::string& log_path);

// Where two runs' final states differ, or "" when they are the same: the checkpoint `latest`
// names in each (same step) with every tensor torch::equal (parameters, buffers, optimizer
// moments, generators), and metrics.jsonl the same but for the wall-clock seconds.
std::string final_state_difference(const std::string& run_dir, const std::string& other_run_dir);
// The lines of `run_dir`/metrics.jsonl without their wall-clock "seconds", which no two runs share.
std::vector<json> metrics_without_seconds(const std::string& run_dir);
// The file names of `run_dir`'s checkpoints (*.ckpt), in order of their steps.
std::vector<std::string> checkpoint_file_names(const std::string& run_dir);
// The last "valid_mse X" a `collab train` printed to `out`, or -1 when there is none.
double last_valid_mse(const std::string& out);

// A folder set up as a user sets one up: `config` (config.json) and `ratings` (ratings.tsv) in a
// fresh temporary folder; runs go to `run_dir` (dir/run) unless told otherwise.
struct Workspace {
  std::string dir, config, ratings, run_dir;
  // Put on every `train` command line before the caller's own options (e.g. "--quiet").
  std::string train_options;

  Workspace(const json& config_json, const std::string& ratings_text,
            const std::string& prefix = "collab-workspace");
  // With the config as text, for configs that are not valid JSON.
  Workspace(const std::string& config_text, const std::string& ratings_text,
            const std::string& prefix = "collab-workspace");
  void write_config(const json& config_json) const;  // indented
  void write_config(const std::string& config_text) const;
  // dir/name: where a second run or any other file of the test goes.
  std::string path(const std::string& name) const;
  // `collab train <config> --run-dir <run_dir> <train_options> <extra>`.
  CommandResult train(const std::string& extra = "") const;
  // The same into another run folder.
  CommandResult train_into(const std::string& run, const std::string& extra = "") const;
  // The checkpoint `latest` names in run_dir.
  std::string latest() const;
};

// ---- checks several test files make ----

bool contains(const std::string& text, const std::string& part);
// The command succeeded (exit code 0); else fails the test with its stdout and stderr.
void expect_ok(const CommandResult& r);
// A refused command: a non-zero exit, exactly one line on stderr (ending in a newline),
// starting "collab COMMAND: error: ", with no C++ backtrace, holding each of `parts`.
void expect_one_line_error(const CommandResult& r, const std::string& command,
                           const std::vector<std::string>& parts);
// `collab args` exits with 1 and one line on stderr holding `needle`.
void expect_refused(const std::string& args, const std::string& needle);
// `f()` throws a collab::Error whose message is one line holding each of `parts`.
template <class F>
void expect_one_line_error_thrown(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected a collab::Error";
  } catch (const collab::Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    for (const auto& p : parts) {
      EXPECT_NE(what.find(p), std::string::npos) << p << " not in: " << what;
    }
  }
}
// Same names in the same order, each tensor torch::equal.
void expect_same_tensors(const std::vector<std::pair<std::string, torch::Tensor>>& a,
                         const std::vector<std::pair<std::string, torch::Tensor>>& b);

// The message of the collab::Error `f()` throws; a test failure naming `what` when it throws
// none.
template <class F>
std::string error_of(F&& f, const std::string& what = "the call") {
  try {
    f();
  } catch (const collab::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << what << " did not throw";
  return "";
}
// The error build_model gives for the model section `config` on `shape`.
std::string build_model_error(const json& config, const ModelShape& shape);

// One training step on `batch` both ways, as the fused-step tests compare them: autograd
// (mse_loss, backward) on `reference` with `reference_opt`, then `fused`; expects the two
// losses to agree to float precision (failures name step `t`).
void step_both_ways(CollabModelImpl& reference, FastaiAdam& reference_opt, FusedStep& fused,
                    const Batch& batch, double lr, double beta1, int64_t t);

double sigmoid(double x);
// An (n, 2) long tensor of (user, item) rows, as a model's forward takes them.
torch::Tensor user_item_pairs(const std::vector<std::pair<int64_t, int64_t>>& rows);

// Runs `write` in a child process whose file-size limit is `limit_bytes` (a write then fails half
// way, as on a full disk; SIGXFSZ ignored so it fails with EFBIG) and returns the message of the
// collab::Error it threw, or "no error" / "other exception". In a child process because the limit
// applies to the whole process (root ignores folder permissions, so a read-only folder would not
// fail).
std::string error_past_file_size_limit(const std::function<void()>& write,
                                       long limit_bytes = 4096);

}  // namespace collab::test

// Skips the current test with a message when MovieLens 100k is not in ../shared.
#define COLLAB_REQUIRE_SHARED_DATA()                                                      \
  do {                                                                                    \
    if (collab::test::shared_data_dir().empty())                                          \
      GTEST_SKIP() << "MovieLens 100k not found in " COLLAB_SHARED_DIR "/data; skipping"; \
  } while (0)
