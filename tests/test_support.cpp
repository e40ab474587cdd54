#include "test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include <torch/torch.h>

#include "collab/train/run_checkpoints.h"
#include "collab/common/error.h"
#include "collab/train/checkpoint.h"

namespace fs = std::filesystem;

namespace collab::test {

std::string shared_data_dir() {
  const fs::path dir = fs::path(COLLAB_SHARED_DIR) / "data";
  return fs::exists(dir / "ml-100k" / "u.data") ? fs::canonical(dir).string() : std::string();
}

namespace {
struct TempDirs {
  std::vector<fs::path> dirs;
  ~TempDirs() {
    std::error_code ec;
    for (const auto& d : dirs) fs::remove_all(d, ec);
  }
};
TempDirs& temp_dirs() {
  static TempDirs dirs;
  return dirs;
}
}  // namespace

std::string temp_dir(const std::string& prefix) {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const fs::path dir = fs::temp_directory_path() / (prefix + "-" + std::to_string(rd()));
    if (fs::create_directory(dir)) {
      temp_dirs().dirs.push_back(dir);
      return dir.string();
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

CommandResult run_collab(const std::string& args, const std::string& env) {
  const std::string dir = temp_dir("collab-run");
  const std::string out_path = dir + "/out", err_path = dir + "/err";
  const std::string cmd =
      env + " '" COLLAB_BIN "' " + args + " >'" + out_path + "' 2>'" + err_path + "' </dev/null";
  const int status = std::system(cmd.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, read_text(out_path), read_text(err_path)};
}

std::string synthetic_ratings(int n, int users, int items, unsigned seed) {
  std::mt19937 rng(seed);
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += std::to_string(i % users + 1) + "\t" + std::to_string(rng() % items + 1) + "\t" +
            std::to_string(rng() % 5 + 1) + "\t" + std::to_string(880000000 + i) + "\n";
  }
  return text;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int start_collab(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<std::string> argv_text{COLLAB_BIN};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(126);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    // A test run in the background of a non-interactive shell inherits SIGINT ignored, and
    // collab leaves an ignored SIGINT ignored: the child gets the defaults, as at a terminal.
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execv(COLLAB_BIN, argv.data());
    _exit(127);
  }
  return pid;
}

namespace {

std::string tensors_difference(const std::vector<std::pair<std::string, torch::Tensor>>& a,
                               const std::vector<std::pair<std::string, torch::Tensor>>& b,
                               const std::string& what) {
  if (a.size() != b.size())
    return what + ": " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) + " tensors";
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k].first != b[k].first) return what + ": " + a[k].first + " vs " + b[k].first;
    if (!torch::equal(a[k].second, b[k].second)) return what + " " + a[k].first + " differs";
  }
  return "";
}

std::vector<std::string> metrics_lines_without_seconds(const std::string& run_dir) {
  std::vector<std::string> out;
  std::istringstream lines(read_text(run_dir + "/metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    collab::json m = collab::json::parse(line);
    m.erase("seconds");
    out.push_back(m.dump());
  }
  return out;
}

}  // namespace

std::string final_state_difference(const std::string& run_dir, const std::string& other_run_dir) {
  try {
    const std::string path_a = collab::latest_checkpoint(run_dir);
    const std::string path_b = collab::latest_checkpoint(other_run_dir);
    if (fs::path(path_a).filename() != fs::path(path_b).filename()) {
      return "latest checkpoints " + path_a + " and " + path_b + " are of other steps";
    }
    const collab::Checkpoint a = collab::read_checkpoint(path_a);
    const collab::Checkpoint b = collab::read_checkpoint(path_b);
    for (const std::string& d :
         {tensors_difference(a.state.parameters, b.state.parameters, "parameter"),
          tensors_difference(a.state.buffers, b.state.buffers, "buffer")}) {
      if (!d.empty()) return d;
    }
    if (a.state.optimizer.size() != b.state.optimizer.size()) return "optimizer state sizes";
    for (size_t k = 0; k < a.state.optimizer.size(); ++k) {
      const auto &x = a.state.optimizer[k], &y = b.state.optimizer[k];
      if (x.name != y.name || x.step != y.step || !torch::equal(x.exp_avg, y.exp_avg) ||
          !torch::equal(x.exp_avg_sq, y.exp_avg_sq)) {
        return "optimizer state of " + x.name + " differs";
      }
    }
    if (!torch::equal(a.state.cpu_generator, b.state.cpu_generator)) return "CPU generator";
    if (!torch::equal(a.state.order_generator, b.state.order_generator)) {
      return "batch-order generator";
    }
    if (a.state.global_step != b.state.global_step || a.state.epoch != b.state.epoch ||
        a.state.batch != b.state.batch ||
        a.state.smoothed_loss_average != b.state.smoothed_loss_average ||
        a.state.smoothed_loss_count != b.state.smoothed_loss_count) {
      return "trainer position or smoothed loss differs";
    }
    if (metrics_lines_without_seconds(run_dir) != metrics_lines_without_seconds(other_run_dir)) {
      return "metrics.jsonl differs";
    }
  } catch (const collab::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace collab::test
