#include "collab/train/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/text.h"
#include "collab/train/run_config.h"

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

namespace {

// This process's holds, by canonical dir: flock() locks belong to an open file description, so
// a second open() and flock() of the same file in this process would block on itself.
std::mutex holds_mutex;
std::map<std::string, std::weak_ptr<const RunDirLock>>& holds() {
  static std::map<std::string, std::weak_ptr<const RunDirLock>> by_dir;
  return by_dir;
}

// The pid the holder wrote into the lock file ("" when it has not written it yet).
std::string holder_pid(int fd) {
  char buffer[32] = {};
  const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return "";
  return std::string(trim(std::string(buffer, static_cast<size_t>(n))));
}

}  // namespace

std::shared_ptr<const RunDirLock> RunDirLock::acquire(const std::string& run_dir) {
  std::error_code ec;
  const std::string key = fs::weakly_canonical(run_dir, ec).string();
  std::lock_guard<std::mutex> guard(holds_mutex);
  if (auto held = holds()[key].lock()) return held;
  const std::string path = (fs::path(run_dir) / kRunDirLockFile).string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0)
    throw Error(path + ": cannot open the run dir's lock file (" + std::strerror(errno) + ")");
  int locked;
  while ((locked = ::flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
  }
  if (locked != 0) {
    const int error = errno;
    const std::string pid = holder_pid(fd);
    ::close(fd);
    if (error != EWOULDBLOCK) {
      throw Error(path + ": cannot lock the run dir (" + std::string(std::strerror(error)) + ")");
    }
    throw Error(run_dir + " is in use by another collab process" +
                (pid.empty() ? std::string() : " (pid " + pid + ")") +
                ", which writes it: wait for it to end, or use another run dir");
  }
  // Who holds it, for the message another process prints; not needed for the lock itself.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // A full disk: the lock holds all the same, only the holder's pid goes unnamed.
  }
  std::shared_ptr<const RunDirLock> lock(new RunDirLock(key, fd));
  holds()[key] = lock;
  return lock;
}

RunDirLock::~RunDirLock() {
  std::lock_guard<std::mutex> guard(holds_mutex);
  ::close(fd_);  // releases the flock
  auto it = holds().find(key_);
  if (it != holds().end() && it->second.expired()) holds().erase(it);
}

std::string read_run_id(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "run.json").string();
  if (!fs::exists(path)) return "";
  const json identity = read_json_file(path);
  if (!identity.is_object() || !identity.contains("run_id") || !identity["run_id"].is_string()) {
    throw Error(path + ": expected {\"run_id\": \"...\"}");
  }
  return identity["run_id"].get<std::string>();
}

std::string new_run_id() {
  std::random_device entropy;
  std::string id;
  char hex[9];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(entropy()));
    id += hex;
  }
  return id;
}

void write_run_id(const std::string& run_dir, const std::string& run_id) {
  write_json_atomically((fs::path(run_dir) / "run.json").string(), json{{"run_id", run_id}});
}

void write_json_atomically(const std::string& path, const json& value) {
  write_file_atomically(path, value.dump(2) + "\n");
}

void append_json_line(const std::string& path, const json& value) {
  append_line(path, json_text(value));
}

}  // namespace collab
