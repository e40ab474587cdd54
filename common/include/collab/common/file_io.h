// Whole-file reading and the one way collab writes files: every file a command produces
// (checkpoints, run files, exported models, caches, plots) is replaced atomically, so a crash at
// any moment leaves either the old file or the complete new one, never a torn one. Errors are
// collab::Error naming the file and the system's reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace collab {

// Throws collab::Error unless `path` (after symlinks) is a regular file: "<path>: cannot open
// (<reason>)", "<path>: is a directory", "<path>: not a regular file (a character device ...)".
// Before opening anything a user names: a FIFO blocks in open(), /dev/zero never ends.
void require_regular_file(const std::string& path);

// The whole of `path` (a regular file, require_regular_file) as bytes. Throws collab::Error for
// the cases above, "<path>: cannot read (<reason>)", and "<path>: N bytes, more than the M
// bytes ..." when it is larger than `max_bytes`.
std::string read_file(const std::string& path, size_t max_bytes = SIZE_MAX);

// Throws collab::Error when `output` is the same file as `input` (a hard link or a symlink
// included): a command never replaces a file it is reading. `what` names the input ("the
// checkpoint it exports").
void refuse_overwriting_input(const std::string& output, const std::string& input,
                              const std::string& what);

// A file being written under a temporary name in the folder of `path` (so the rename never
// crosses file systems), renamed over `path` by commit(). Until then `path` is untouched; a
// destroyed, uncommitted AtomicFile removes its temporary file. For writers that stream (the
// ratings cache) rather than hold the whole file in memory.
class AtomicFile {
 public:
  // Creates the temporary file "<path><kTempFileSuffix><pid>-<n>" (n unique in this process).
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // fsyncs the file, renames it over `path`, then fsyncs the folder so the rename is durable.
  void commit();

  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void fail(const std::string& action, int error);

  std::string path_;
  std::string tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

// Replaces `path` with `bytes` through an AtomicFile. On failure (a full disk, a missing folder)
// the temporary file is removed, `path` keeps its old content, and collab::Error names `path`
// and the system's reason.
void write_file_atomically(const std::string& path, std::string_view bytes);

// Appends `line` and a newline to `path` (created if missing) and flushes it to the kernel: a
// log (metrics.jsonl) whose every line is whole once this returns.
void append_line(const std::string& path, std::string_view line);

// The marker in AtomicFile's temporary names, so that leftovers of a killed process can be
// recognised and removed.
constexpr const char* kTempFileSuffix = ".tmp-";

}  // namespace collab
