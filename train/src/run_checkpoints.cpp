#include "collab/train/run_checkpoints.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <vector>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"
#include "collab/data/ratings.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "ckpt-";
constexpr const char* kExtension = ".ckpt";

// The step in a checkpoint's file name, or nothing for any other file.
std::optional<int64_t> step_of(const std::string& name) {
  const std::string prefix = kPrefix, ext = kExtension;
  if (name.size() <= prefix.size() + ext.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - ext.size(), ext.size(), ext) != 0) {
    return std::nullopt;
  }
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - ext.size());
  if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

struct Entry {
  int64_t step;
  fs::path path;
};

std::vector<Entry> list_checkpoints(const std::string& run_dir) {
  std::vector<Entry> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(checkpoints_dir(run_dir), ec)) {
    if (const auto step = step_of(e.path().filename().string())) out.push_back({*step, e.path()});
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.step > b.step; });
  return out;
}

std::string latest_file(const std::string& run_dir) {
  return checkpoints_dir(run_dir) + "/latest";
}

// The file name `latest` holds, or "" when there is no `latest`.
std::string latest_name(const std::string& run_dir) {
  const std::string path = latest_file(run_dir);
  if (!fs::exists(path)) return "";
  // A file name: anything longer is not what collab wrote.
  return std::string(trim(read_file(path, /*max_bytes=*/4096)));
}

std::string make_checkpoints_dir(const std::string& run_dir) {
  const std::string dir = checkpoints_dir(run_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the folder (" + ec.message() + ")");
  return dir;
}

void remove_file(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) throw Error(path.string() + ": cannot delete (" + ec.message() + ")");
}

}  // namespace

std::string checkpoints_dir(const std::string& run_dir) {
  return (fs::path(run_dir) / "checkpoints").string();
}

std::string checkpoint_file_name(int64_t global_step) {
  char name[40];
  std::snprintf(name, sizeof name, "%s%010lld%s", kPrefix, static_cast<long long>(global_step),
                kExtension);
  return name;
}

bool has_checkpoints(const std::string& run_dir) {
  return fs::exists(latest_file(run_dir)) || !list_checkpoints(run_dir).empty();
}

std::string save_checkpoint(const std::string& run_dir, const Checkpoint& checkpoint,
                            int64_t keep_last) {
  const std::string dir = make_checkpoints_dir(run_dir);
  const std::string name = checkpoint_file_name(checkpoint.state.global_step);
  const std::string path = dir + "/" + name;
  write_checkpoint(path, checkpoint);
  write_file_atomically(latest_file(run_dir), name + "\n");
  if (keep_last > 0) {
    const std::vector<Entry> all = list_checkpoints(run_dir);
    for (size_t k = static_cast<size_t>(keep_last); k < all.size(); ++k) {
      if (all[k].path.filename() != name) remove_file(all[k].path);
    }
  }
  return path;
}

std::string best_checkpoint_path(const std::string& run_dir) {
  return checkpoints_dir(run_dir) + "/best" + kExtension;
}

std::string save_best_checkpoint(const std::string& run_dir, const Checkpoint& checkpoint) {
  make_checkpoints_dir(run_dir);
  const std::string path = best_checkpoint_path(run_dir);
  write_checkpoint(path, checkpoint);
  return path;
}

std::string latest_checkpoint(const std::string& run_dir) {
  const std::string latest = latest_file(run_dir);
  if (!fs::exists(latest)) {
    // A crash between the first checkpoint's rename and the first `latest` leaves a complete
    // checkpoint and no `latest`: the newest checkpoint is then the one to take.
    const std::vector<Entry> all = list_checkpoints(run_dir);
    if (!all.empty()) return all.front().path.string();
    throw Error(run_dir + ": no checkpoint to resume from (" + latest + " does not exist)");
  }
  const std::string name = latest_name(run_dir);
  if (!step_of(name)) {
    throw Error(latest + ": does not name a checkpoint file (holds " + quoted_for_message(name) +
                ")");
  }
  return checkpoints_dir(run_dir) + "/" + name;
}

void discard_checkpoints_after(const std::string& run_dir, int64_t global_step) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(checkpoints_dir(run_dir), ec)) {
    if (e.path().filename().string().find(kTempFileSuffix) != std::string::npos) {
      remove_file(e.path());
    }
  }
  for (const Entry& e : list_checkpoints(run_dir)) {
    if (e.step > global_step) remove_file(e.path);
  }
  const std::string best = best_checkpoint_path(run_dir);
  if (fs::exists(best) && read_checkpoint(best).state.global_step > global_step) remove_file(best);
}

}  // namespace collab
