#include "test_support.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

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

}  // namespace collab::test
