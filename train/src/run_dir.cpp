#include "collab/train/run_dir.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "collab/common/error.h"

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
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << value.dump(2) << "\n";
    out.flush();
    if (!out) throw Error(tmp + ": cannot write (" + std::strerror(errno) + ")");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw Error(path + ": cannot replace (" + ec.message() + ")");
}

void append_json_line(const std::string& path, const json& value) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << json_text(value) << "\n";
  out.flush();
  if (!out) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
}

}  // namespace collab
