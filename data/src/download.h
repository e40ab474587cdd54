// A resumable HTTP(S) download for fetch.cpp: the archive grows in one `.part` file beside its
// destination, locked so two processes never write it at once. A connection cut mid-way is
// retried from where it stopped (an HTTP range request) a few times; if it still fails, the
// bytes stay in the `.part` file and the next fetch of the same dataset continues from them.
// A server that ignores ranges gets the whole file again from byte 0.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "collab/common/error.h"

namespace collab {

struct DownloadRequest {
  std::string url;
  std::string label;          // shown in the progress line ("ml-100k")
  int64_t expected_size = 0;  // bytes; <= 0: unknown (no size check, no early stop)
  std::string hint;           // appended to every error: how to get the file by hand
  bool quiet = false;
};

// Thrown when the transfer broke off after some bytes arrived and they were kept in the part
// file; the caller leaves that file in place so that the next attempt resumes.
class IncompleteDownload : public Error {
 public:
  using Error::Error;
};

// Downloads `request.url` into `part`, continuing after the bytes already there, and returns the
// MD5 (lower-case hex) of the whole file. Throws IncompleteDownload when a cut connection still
// fails after the retries (the part file keeps what arrived), collab::Error otherwise (the part
// file's content is then worthless: the caller removes it). A file already as large as the
// expected size is not downloaded again, only hashed.
std::string download_resumable(const DownloadRequest& request, const std::filesystem::path& part);

}  // namespace collab
