#include "collab/train/run_dir.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "collab/common/error.h"
#include "collab/common/file_io.h"

namespace collab {

namespace fs = std::filesystem;

std::string prepare_run_dir(const std::string& requested, const std::string& arch) {
  std::string dir = requested;
  if (dir.empty()) {
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    dir = (fs::path("runs") / (arch + "-" + stamp)).string();
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw Error("--run-dir " + dir + ": cannot create the folder (" + ec.message() + ")");
  }
  return dir;
}

void write_json_atomically(const std::string& path, const json& value) {
  write_file_atomically(path, value.dump(2) + "\n");
}

void append_json_line(const std::string& path, const json& value) {
  append_line(path, json_text(value));
}

}  // namespace collab
