#include "collab/data/fetch.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "collab/common/digest.h"
#include "collab/common/error.h"
#include "collab/data/datasets.h"
#include "download.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> required_files(const std::string& name) {
  for (const auto& d : known_datasets()) {
    if (d.name == name) return dataset_files(d);
  }
  return {};
}

bool files_present(const std::string& name, const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& f : required_files(name)) {
    if (!fs::is_regular_file(dir / f, ec)) return false;
  }
  return true;
}

// The folder the archive unpacks to ("ml-10M100K" for ml-10m).
std::string folder_of(const DatasetSource& s) {
  return s.folder.empty() ? s.name : s.folder;
}

// Appended to every download failure: these machines are often offline, so say what to do.
std::string manual_hint(const DatasetSource& s, const fs::path& target) {
  return "to get it by hand, download " + s.url + ", unzip it and move its " + folder_of(s) +
         "/ folder to " + target.string() + ", or set COLLAB_DATA_DIR to a folder holding " +
         folder_of(s) + "/";
}

// Removes a temporary file or folder when the fetch leaves scope, successful or not.
struct TempPath {
  fs::path path;
  ~TempPath() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// A hidden, unique folder in the destination itself, so the final rename never crosses devices.
fs::path make_temp_folder(const fs::path& dir, const std::string& stem) {
  std::string pattern = (dir / ("." + stem + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw Error("cannot create a temporary folder in " + dir.string() + ": " +
                std::strerror(errno));
  }
  return pattern;
}

// Zip entries name paths inside the archive; anything that could land outside is refused.
bool unsafe_entry(const std::string& name) {
  if (name.empty() || name.front() == '/') return true;
  const fs::path p(name);
  return std::any_of(p.begin(), p.end(), [](const fs::path& part) { return part == ".."; });
}

// Unpacks the zip at `zip` into `dir`, plain files and folders only.
void extract(const fs::path& zip, const fs::path& dir, const std::string& url) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  auto fail = [&](const std::string& what) {
    const char* why = archive_error_string(a.get());
    throw Error("cannot unpack the archive from " + url + ": " + what +
                (why ? why : "unknown error"));
  };
  if (archive_read_open_filename(a.get(), zip.c_str(), 1 << 16) != ARCHIVE_OK) fail("");
  archive_entry* entry = nullptr;
  std::vector<char> buffer(1 << 16);
  int rc;
  while ((rc = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    const char* raw = archive_entry_pathname(entry);
    const std::string name = raw ? raw : "";
    if (unsafe_entry(name)) {
      throw Error("refusing to unpack the archive from " + url + ": entry \"" + name +
                  "\" is an absolute path or contains ..");
    }
    const fs::path out = dir / name;
    const auto type = archive_entry_filetype(entry);
    if (type == AE_IFDIR) {
      fs::create_directories(out);
      continue;
    }
    if (type != AE_IFREG) {
      throw Error("refusing to unpack the archive from " + url + ": entry \"" + name +
                  "\" is not a plain file or folder");
    }
    fs::create_directories(out.parent_path());
    std::ofstream file(out, std::ios::binary);
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buffer.data(), buffer.size())) > 0) {
      file.write(buffer.data(), n);
    }
    if (n < 0) fail(name + ": ");
    if (!file.flush()) throw Error("cannot write " + out.string());
  }
  if (rc != ARCHIVE_EOF) fail("");
}

// Fetches `s` into `target`; temporary files go next to it and vanish on any failure.
void install(const DatasetSource& s, const fs::path& target, bool quiet) {
  if (files_present(s.name, target)) return;
  std::error_code ec;
  if (fs::exists(target, ec) && !fs::is_empty(target, ec)) {
    throw Error(target.string() + " exists but lacks the " + s.name +
                " files; remove it to fetch again, or set COLLAB_DATA_DIR to a folder holding " +
                folder_of(s) + "/");
  }
  const fs::path root = target.parent_path();
  fs::create_directories(root, ec);
  if (ec) throw Error("cannot create " + root.string() + ": " + ec.message());
  if (!quiet) {
    std::cerr << "fetching " << s.name << " from " << s.url << " into " << root.string() << "\n";
  }

  // A fixed name, so that a fetch cut short (network, Ctrl-C) resumes from the bytes it kept.
  const fs::path part = root / ("." + folder_of(s) + ".zip.part");
  const std::string md5 =
      download_resumable({s.url, s.name, s.size, manual_hint(s, target), quiet}, part);
  const TempPath zip{part};  // complete now: spent once unpacked, or wrong
  std::string expected = s.md5;
  for (char& ch : expected) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (!expected.empty() && md5 != expected) {
    throw Error("the download of " + s.url + " has MD5 " + md5 + ", expected " + expected +
                " (damaged or changed); " + manual_hint(s, target));
  }
  const TempPath unpack{make_temp_folder(root, s.name + "-unpack")};
  extract(zip.path, unpack.path, s.url);
  const fs::path unpacked = unpack.path / folder_of(s);  // the archive holds one top folder
  if (!files_present(s.name, unpacked)) {
    throw Error("the archive from " + s.url + " has no " + folder_of(s) + "/ folder with the " +
                s.name + " files");
  }
  // One rename publishes the whole folder: readers see all of it or nothing.
  fs::rename(unpacked, target, ec);
  if (ec && !files_present(s.name, target)) {  // present: a concurrent fetch won the race
    throw Error("cannot move " + unpacked.string() + " to " + target.string() + ": " +
                ec.message());
  }
}

}  // namespace

DatasetSource known_dataset(const std::string& name) {
  const KnownDataset& d = find_known_dataset(name);
  return {d.name, d.url, d.md5, d.size, d.folder};
}

bool dataset_present(const std::string& name, const std::string& root) {
  return files_present(name, fs::path(root) / folder_of(known_dataset(name)));
}

std::string fetch_dataset(const DatasetSource& source, const std::string& root, bool quiet) {
  const fs::path target = fs::absolute(root).lexically_normal() / folder_of(source);
  install(source, target, quiet);
  return target.string();
}

void ensure_dataset(const std::string& name, const std::string& dataset_dir, bool quiet) {
  if (name.empty()) return;
  DatasetSource s = known_dataset(name);
  fs::path target = fs::absolute(dataset_dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "dir/" names "dir"
  if (files_present(name, target)) return;
  // COLLAB_ML100K_URL etc.: tests and mirrors point collab elsewhere without a config change.
  std::string prefix = "COLLAB_";
  for (char ch : name) {
    if (std::isalnum(static_cast<unsigned char>(ch))) prefix += static_cast<char>(std::toupper(ch));
  }
  if (const char* url = std::getenv((prefix + "_URL").c_str()); url && *url) s.url = url;
  if (const char* md5 = std::getenv((prefix + "_MD5").c_str())) s.md5 = md5;
  if (const char* size = std::getenv((prefix + "_SIZE").c_str())) {
    char* end = nullptr;
    s.size = *size ? std::strtoll(size, &end, 10) : 0;
    if (*size && *end) throw Error(prefix + "_SIZE=\"" + size + "\" is not a number of bytes");
  }
  install(s, target, quiet);
}

std::string file_md5(const std::string& path) {
  return file_digest_hex(DigestKind::kMd5, path);
}

}  // namespace collab
