#include "collab/common/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "collab/common/error.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

std::string reason(int error) {
  return std::strerror(error);
}

std::string folder_of(const std::string& path) {
  const fs::path target(path);
  return target.has_parent_path() ? target.parent_path().string() : ".";
}

// The rename lives in the folder's entries: without this fsync a power loss could bring back
// the old name (still a complete file, but not the newest). File systems that cannot sync a
// folder (EINVAL) have nothing to lose.
void sync_folder(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(dir + ": cannot open the folder to sync it (" + reason(errno) + ")");
  const int synced = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (synced != 0 && error != EINVAL) {
    throw Error(dir + ": cannot sync the folder (" + reason(error) + ")");
  }
}

}  // namespace

void require_regular_file(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) throw Error(path + ": cannot open (" + reason(errno) + ")");
  if (S_ISREG(info.st_mode)) return;
  if (S_ISDIR(info.st_mode)) throw Error(path + ": is a directory");
  const char* kind = S_ISCHR(info.st_mode)    ? "a character device"
                     : S_ISBLK(info.st_mode)  ? "a block device"
                     : S_ISFIFO(info.st_mode) ? "a FIFO"
                     : S_ISSOCK(info.st_mode) ? "a socket"
                                              : "a special file";
  throw Error(path + ": not a regular file (" + kind + "); collab reads data, configs and " +
              "models from regular files only");
}

std::string read_file(const std::string& path, size_t max_bytes) {
  require_regular_file(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open (" + reason(errno) + ")");
  std::string bytes;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      throw Error(path + ": cannot read (" + reason(error) + ")");
    }
    if (n == 0) break;
    if (bytes.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      throw Error(path + ": more than " + std::to_string(max_bytes) +
                  " bytes, too large for what it is read as");
    }
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return bytes;
}

void refuse_overwriting_input(const std::string& output, const std::string& input,
                              const std::string& what) {
  std::error_code ec;
  if (fs::equivalent(output, input, ec) && !ec) {
    throw Error(output + ": is " + what + "; write the output to another file");
  }
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  // A name unique to this process and call (two threads may write files of the same name), with
  // O_EXCL rather than mkstemp so the file gets the usual 0666 & ~umask permissions.
  static std::atomic<unsigned> counter{0};
  tmp_ = path_ + kTempFileSuffix + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) throw Error(path_ + ": cannot create " + tmp_ + " (" + reason(errno) + ")");
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (fd_ >= 0) ::close(fd_);
  ::unlink(tmp_.c_str());
}

void AtomicFile::fail(const std::string& action, int error) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
  committed_ = true;  // nothing left for the destructor to remove
  throw Error(path_ + ": cannot " + action + " (" + reason(error) + ")");
}

void AtomicFile::write(const void* data, size_t size) {
  if (fd_ < 0) throw Error(path_ + ": write after the file was committed or failed");
  const char* bytes = static_cast<const char*>(data);
  size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd_, bytes + written, size - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write " + tmp_, n < 0 ? errno : ENOSPC);
    written += static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw Error(path_ + ": commit after the file was committed or failed");
  if (::fsync(fd_) != 0) fail("flush " + tmp_ + " to disk", errno);
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) fail("write " + tmp_, errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("rename " + tmp_ + " onto it", errno);
  committed_ = true;
  sync_folder(folder_of(path_));
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
}

void append_line(const std::string& path, std::string_view line) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  if (!out) throw Error(path + ": cannot open for appending (" + reason(errno) + ")");
  out << line << '\n';
  out.flush();
  if (!out) throw Error(path + ": cannot write (" + reason(errno) + ")");
}

}  // namespace collab
