// The run directory a command writes into: the resolved config.json and metrics.jsonl (one JSON
// object per epoch). Files are replaced atomically so a crash never leaves half of one.
#pragma once

#include <memory>
#include <string>

#include "collab/common/config_reader.h"

namespace collab {

// `requested`, or runs/<arch>-<YYYYmmdd-HHMMSS> when empty; created if missing.
std::string prepare_run_dir(const std::string& requested, const std::string& arch);

// One writer per run dir: an advisory flock on <run_dir>/.lock, which the kernel releases when
// the holder ends, however it ends (a SIGKILL leaves no stale lock). Every command that writes a
// run dir holds it from before it reads what it continues (a resume's checkpoint) to its last
// write. Re-entrant within a process: a second lock on a dir this process holds shares the hold.
class RunDirLock {
 public:
  // Creates `run_dir`'s lock file if missing and takes the lock; throws collab::Error naming
  // the dir and the holder's pid when another process holds it.
  static std::shared_ptr<const RunDirLock> acquire(const std::string& run_dir);
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

 private:
  RunDirLock(std::string key, int fd) : key_(std::move(key)), fd_(fd) {}
  std::string key_;  // the dir's canonical path
  int fd_;
};

// The lock file's name in a run dir.
constexpr const char* kRunDirLockFile = ".lock";

// The run's identity, <run_dir>/run.json {"run_id": ...}: every checkpoint carries it, so a
// checkpoint copied in from another run is refused rather than continued. "" when the dir has
// none (a run dir of an older collab).
std::string read_run_id(const std::string& run_dir);
// A fresh random identity (32 hex digits).
std::string new_run_id();
void write_run_id(const std::string& run_dir, const std::string& run_id);

// Writes `value` to `path` through a temporary file in the same folder and a rename.
void write_json_atomically(const std::string& path, const json& value);

// Appends `value` as one line to `path` and flushes it.
void append_json_line(const std::string& path, const json& value);

}  // namespace collab
