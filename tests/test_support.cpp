#include "test_support.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "collab/common/error.h"
#include "collab/data/item_catalog.h"
#include "collab/models/registry.h"
#include "collab/train/checkpoint.h"
#include "collab/train/run_checkpoints.h"

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
  return {exit_code_of(std::system(cmd.c_str())), read_text(out_path), read_text(err_path)};
}

json run_collab_json(const std::string& args) {
  const CommandResult r = run_collab(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

int exit_code_of(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return exit_code_of(status);
}

bool wait_until(const std::function<bool()>& done, double seconds, std::chrono::microseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

ScopedEnv::ScopedEnv(const std::map<std::string, std::optional<std::string>>& values) {
  for (const auto& [name, value] : values) set(name, value);
}

ScopedEnv::ScopedEnv(const std::string& name, const char* value) {
  set(name, value ? std::optional<std::string>(value) : std::nullopt);
}

ScopedEnv::~ScopedEnv() {
  for (const auto& [name, value] : saved_) {
    if (value) {
      ::setenv(name.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
}

void ScopedEnv::set(const std::string& name, const std::optional<std::string>& value) {
  if (saved_.count(name) == 0) {
    const char* old = std::getenv(name.c_str());
    saved_[name] = old ? std::optional<std::string>(old) : std::nullopt;
  }
  if (value) {
    ::setenv(name.c_str(), value->c_str(), 1);
  } else {
    ::unsetenv(name.c_str());
  }
}

std::string item_line(const std::string& id, const std::string& title, const std::string& date,
                      std::initializer_list<int> genres) {
  std::string flags[collab::kMovieLensGenres];
  for (auto& f : flags) f = "0";
  for (const int g : genres) flags[g] = "1";
  std::string line = id + "|" + title + "|" + date + "||http://us.imdb.com/x";
  for (const auto& f : flags) line += "|" + f;
  return line + "\n";
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
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
          tensors_difference(a.state.buffers, b.state.buffers, "buffer"),
          tensors_difference(a.state.sparse, b.state.sparse, "sparse-path state")}) {
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
    if (metrics_without_seconds(run_dir) != metrics_without_seconds(other_run_dir)) {
      return "metrics.jsonl differs";
    }
  } catch (const collab::Error& e) {
    return e.what();
  }
  return "";
}

std::vector<json> metrics_without_seconds(const std::string& run_dir) {
  std::vector<json> out;
  std::istringstream lines(read_text(run_dir + "/metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    json m = json::parse(line);
    m.erase("seconds");
    out.push_back(m);
  }
  return out;
}

std::vector<std::string> checkpoint_file_names(const std::string& run_dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(collab::checkpoints_dir(run_dir))) {
    if (e.path().extension() == ".ckpt") names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

double last_valid_mse(const std::string& out) {
  const auto pos = out.rfind("valid_mse ");
  return pos == std::string::npos ? -1.0 : std::stod(out.substr(pos + 10));
}

Workspace::Workspace(const json& config_json, const std::string& ratings_text,
                     const std::string& prefix)
    : Workspace(config_json.dump(2), ratings_text, prefix) {}

Workspace::Workspace(const std::string& config_text, const std::string& ratings_text,
                     const std::string& prefix)
    : dir(temp_dir(prefix)),
      config(dir + "/config.json"),
      ratings(dir + "/ratings.tsv"),
      run_dir(dir + "/run") {
  write_config(config_text);
  write_text(ratings, ratings_text);
}

void Workspace::write_config(const json& config_json) const {
  write_config(config_json.dump(2));
}

void Workspace::write_config(const std::string& config_text) const {
  write_text(config, config_text);
}

std::string Workspace::path(const std::string& name) const {
  return dir + "/" + name;
}

CommandResult Workspace::train(const std::string& extra) const {
  return train_into(run_dir, extra);
}

CommandResult Workspace::train_into(const std::string& run, const std::string& extra) const {
  return run_collab("train " + shell_quote(config) + " --run-dir " + shell_quote(run) + " " +
                    train_options + " " + extra);
}

std::string Workspace::latest() const {
  return collab::latest_checkpoint(run_dir);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void expect_ok(const CommandResult& r) {
  ASSERT_EQ(r.exit_code, 0) << "stdout: " << r.out << "\nstderr: " << r.err;
}

void expect_one_line_error(const CommandResult& r, const std::string& command,
                           const std::vector<std::string>& parts) {
  EXPECT_NE(r.exit_code, 0) << "stdout: " << r.out;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
  EXPECT_FALSE(r.err.empty() || r.err.back() != '\n') << "stderr: " << r.err;
  EXPECT_EQ(r.err.rfind("collab " + command + ": error: ", 0), 0u) << "stderr: " << r.err;
  EXPECT_FALSE(contains(r.err, "Exception raised from")) << "stderr: " << r.err;
  for (const auto& part : parts) {
    EXPECT_TRUE(contains(r.err, part)) << "stderr lacks \"" << part << "\": " << r.err;
  }
}

void expect_refused(const std::string& args, const std::string& needle) {
  const CommandResult r = run_collab(args);
  EXPECT_EQ(r.exit_code, 1) << args;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

void expect_same_tensors(const std::vector<std::pair<std::string, torch::Tensor>>& a,
                         const std::vector<std::pair<std::string, torch::Tensor>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].first, b[k].first);
    EXPECT_TRUE(torch::equal(a[k].second, b[k].second)) << a[k].first << " differs";
  }
}

std::string build_model_error(const json& config, const ModelShape& shape) {
  return error_of(
      [&] {
        ConfigReader reader(config, "model", nullptr);
        build_model(reader, shape);
      },
      "build_model(" + config.dump() + ")");
}

void step_both_ways(CollabModelImpl& reference, FastaiAdam& reference_opt, FusedStep& fused,
                    const Batch& batch, double lr, double beta1, int64_t t) {
  const torch::Tensor loss = torch::mse_loss(reference.forward(batch.x), batch.y);
  reference_opt.zero_grad();
  loss.backward();
  reference_opt.step(lr, beta1);
  const double fused_loss = fused.step(batch, lr, beta1);
  EXPECT_NEAR(fused_loss, loss.item<double>(), 1e-5 * loss.item<double>()) << "step " << t;
}

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

torch::Tensor user_item_pairs(const std::vector<std::pair<int64_t, int64_t>>& rows) {
  torch::Tensor x = torch::empty({static_cast<int64_t>(rows.size()), 2}, torch::kLong);
  for (size_t r = 0; r < rows.size(); ++r) {
    x[static_cast<int64_t>(r)][0] = rows[r].first;
    x[static_cast<int64_t>(r)][1] = rows[r].second;
  }
  return x;
}

std::string error_past_file_size_limit(const std::function<void()>& write, long limit_bytes) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return "pipe failed";
  const pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    close(pipe_fds[0]);
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{static_cast<rlim_t>(limit_bytes), static_cast<rlim_t>(limit_bytes)};
    setrlimit(RLIMIT_FSIZE, &limit);
    std::string message = "no error";
    try {
      write();
    } catch (const collab::Error& e) {
      message = e.what();
    } catch (...) {
      message = "other exception";
    }
    (void)!::write(pipe_fds[1], message.data(), message.size());
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string message;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) message.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return message;
}

}  // namespace collab::test

namespace collab::test {

void write_small_catalogue(const std::string& dir) {
  std::string items, train, valid;
  for (int i = 1; i <= 30; ++i) {
    items += std::to_string(i) + "|Movie " + std::to_string(i) + (i == 7 ? " & Friends <b>" : "") +
             " (19" + std::to_string(70 + i) +
             ")|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|1\n";
  }
  for (int u = 1; u <= 20; ++u) {
    for (int j = 0; j < 10; ++j) {
      const int item = (u + j) % 30 + 1;
      train += std::to_string(u) + "\t" + std::to_string(item) + "\t" +
               std::to_string((u + item) % 5 + 1) + "\t880000000\n";
    }
    valid += std::to_string(u) + "\t" + std::to_string((u + 10) % 30 + 1) + "\t3\t880000000\n";
  }
  write_text(dir + "/u.item", items);
  write_text(dir + "/train.tsv", train);
  write_text(dir + "/valid.tsv", valid);
}

void train_feature_models(const std::string& dir, const std::string& data_json, int epochs) {
  for (const auto& [name, model] :
       {std::pair<std::string, std::string>{
            "hybrid", R"({"arch": "HybridDotProductBias", "n_factors": 4, "y_range": [0, 5.5]})"},
        {"content", R"({"arch": "ContentBased", "y_range": [0, 5.5]})"}}) {
    write_text(dir + "/" + name + ".json",
               R"({"data": )" + data_json + R"(, "model": )" + model + R"(, "train": {"epochs": )" +
                   std::to_string(epochs) +
                   R"(, "batch_size": 16, "lr_max": 0.03, "weight_decay": 0.5, "threads": 1}})");
    const auto r = run_collab("train '" + dir + "/" + name + ".json' --run-dir '" + dir + "/" +
                              name + "' --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto e = run_collab("export '" + dir + "/hybrid' -o '" + dir + "/hybrid.pt' --quiet");
  ASSERT_EQ(e.exit_code, 0) << e.err;
}

}  // namespace collab::test
