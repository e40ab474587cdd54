// Fetching named datasets (datasets.h: the MovieLens releases) from the web: download with libcurl
// (resumable: a cut connection is retried, and what arrived is kept for the next run),
// check size and MD5, unpack the zip with libarchive, and move the result into place with one
// rename, so a dataset folder either is complete or does not exist. Used by `collab data fetch` and
// by `collab train` when a config names a dataset whose files are missing.
#pragma once

#include <cstdint>
#include <string>

namespace collab {

struct DatasetSource {
  std::string name;    // the dataset, e.g. "ml-100k"
  std::string url;     // http(s):// or file://
  std::string md5;     // expected MD5 of the archive (lower-case hex); "" skips the check
  int64_t size = 0;    // expected size of the archive in bytes; <= 0 skips the check
  std::string folder;  // the folder the archive unpacks to ("ml-10M100K"); "" when `name`
};

// The official source of a known dataset; throws collab::Error listing the known names.
DatasetSource known_dataset(const std::string& name);

// Whether root/<its folder> holds the dataset's ratings and item files (ml-100k: u.data, u.item).
bool dataset_present(const std::string& name, const std::string& root);

// Downloads, verifies and unpacks `source` into root/<folder> and returns that path. Temporary
// files live in `root` and are removed on any failure, except root/.<folder>.zip.part after a
// cut connection: the next fetch resumes from its bytes. Throws collab::Error (one line naming
// the URL and saying how to get the data by hand) on failure, and when root/<name> already
// exists without the dataset's files.
std::string fetch_dataset(const DatasetSource& source, const std::string& root, bool quiet);

// For `collab train`: when the known dataset `name` is missing from `dataset_dir`, fetches it
// there (temporary files go to the folder's parent). Does nothing when the files are present
// or `name` is "". COLLAB_ML100K_URL overrides the URL (tests, mirrors); COLLAB_ML100K_MD5 and
// COLLAB_ML100K_SIZE override the checks, an empty value skipping that check.
void ensure_dataset(const std::string& name, const std::string& dataset_dir, bool quiet);

// MD5 of a file's bytes as lower-case hex; throws collab::Error when it cannot be read.
std::string file_md5(const std::string& path);

}  // namespace collab
