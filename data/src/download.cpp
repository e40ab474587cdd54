#include "download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "collab/common/digest.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

constexpr int kAttempts = 4;  // the first transfer and up to three resumptions

// The part file, opened for appending and locked (flock) for as long as this object lives, so a
// second collab process fetching the same dataset fails at once instead of interleaving bytes.
class PartFile {
 public:
  explicit PartFile(const fs::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot write ");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      if (err == EWOULDBLOCK) {
        throw Error("another collab process is downloading into " + path_.string() +
                    "; wait for it to finish (or remove that file if no fetch is running)");
      }
      errno = err;
      fail("cannot lock ");
    }
  }
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;
  ~PartFile() { ::close(fd_); }  // closing releases the lock

  int64_t size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail("cannot read ");
    return static_cast<int64_t>(st.st_size);
  }
  void truncate() {
    if (::ftruncate(fd_, 0) != 0) fail("cannot write ");
  }
  // Appends all of `data`; false (errno set) when the disk refuses.
  bool append(const char* data, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      data += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  // Feeds the bytes already in the file to `digest`: a resumed download's MD5 covers them too.
  void hash_into(Digest& digest) const {
    std::vector<char> buffer(1 << 16);
    for (off_t at = 0;;) {
      const ssize_t n = ::pread(fd_, buffer.data(), buffer.size(), at);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("cannot read ");
      if (n == 0) return;
      digest.update(buffer.data(), static_cast<size_t>(n));
      at += n;
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(what + path_.string() + ": " + std::strerror(errno));
  }
  fs::path path_;
  int fd_ = -1;
};

// State shared with libcurl's callbacks during one transfer.
struct Transfer {
  const DownloadRequest* request;
  PartFile* part;
  Digest* md5;
  int64_t offset;     // bytes the file held when this transfer started
  int64_t bytes = 0;  // bytes this transfer appended
  bool too_big = false;
  int write_errno = 0;  // saved at once: libcurl may change errno before we report it
  int last_percent = -1;
};

size_t on_data(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * count;
  // Stop a download that already exceeds the expected size rather than fill the disk.
  const int64_t expected = t->request->expected_size;
  if (expected > 0 && t->offset + t->bytes + static_cast<int64_t>(len) > expected) {
    t->too_big = true;
    return 0;
  }
  if (!t->part->append(data, len)) {
    t->write_errno = errno ? errno : EIO;
    return 0;
  }
  t->bytes += static_cast<int64_t>(len);
  t->md5->update(data, len);
  return len;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  // A resumed transfer counts only what is left; servers need not send Content-Length at all.
  total = total > 0 ? total + t->offset : t->request->expected_size;
  now += t->offset;
  if (total <= 0 || now <= 0) return 0;  // nothing to show before the first bytes
  const int percent = static_cast<int>(std::min<curl_off_t>(100, now * 100 / total));
  if (percent != t->last_percent) {
    t->last_percent = percent;
    std::fprintf(stderr, "\rdownloading %s: %3d%% of %.1f MB", t->request->label.c_str(), percent,
                 static_cast<double>(total) / 1e6);
  }
  return 0;
}

struct Outcome {
  CURLcode code = CURLE_OK;
  long http_status = 0;
  std::string message;  // libcurl's words for a failure
};

// One HTTP transfer appending to the part file from byte `t.offset` on.
Outcome transfer(Transfer& t) {
  const DownloadRequest& r = *t.request;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Error("libcurl failed to start; cannot download " + r.url);
  char error[CURL_ERROR_SIZE] = "";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);  // an HTTP error page is not the archive
  curl_easy_setopt(c, CURLOPT_USERAGENT, "collab");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  // give up on a stalled transfer
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t.offset));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, r.quiet ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  Outcome out;
  out.code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.http_status);
  if (t.last_percent >= 0) std::fputc('\n', stderr);
  if (out.code != CURLE_OK) out.message = *error ? error : curl_easy_strerror(out.code);
  return out;
}

// Failures worth another transfer in this run: the connection broke or the server hiccuped.
bool worth_retrying(const Outcome& o) {
  switch (o.code) {
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
      return true;
    case CURLE_HTTP_RETURNED_ERROR:
      return o.http_status >= 500;
    default:
      return false;
  }
}

// Failures that say nothing against the bytes already kept: the next run can resume from them.
bool keeps_the_part(const Outcome& o) {
  return worth_retrying(o) || o.code == CURLE_COULDNT_CONNECT ||
         o.code == CURLE_COULDNT_RESOLVE_HOST || o.code == CURLE_COULDNT_RESOLVE_PROXY;
}

// The server answered a range request with the whole file (libcurl refuses that) or with 416.
bool range_refused(const Outcome& o) {
  return o.code == CURLE_RANGE_ERROR ||
         (o.code == CURLE_HTTP_RETURNED_ERROR && o.http_status == 416);
}

// The transfers of download_resumable into the locked `part` (at `part_path`).
std::string download_into(const DownloadRequest& r, PartFile& part, const fs::path& part_path) {
  auto md5 = std::make_unique<Digest>(DigestKind::kMd5);
  int64_t have = part.size();
  if (r.expected_size > 0 && have > r.expected_size) {  // not a prefix of this file
    part.truncate();
    have = 0;
  }
  if (have > 0) part.hash_into(*md5);
  bool restarted = false;
  for (int attempt = 1; r.expected_size <= 0 || have < r.expected_size; ++attempt) {
    Transfer t{&r, &part, md5.get(), have};
    const Outcome o = transfer(t);
    have += t.bytes;
    if (t.write_errno) {
      throw Error("cannot write " + part_path.string() + ": " + std::strerror(t.write_errno));
    }
    if (t.too_big) {
      throw Error("the download of " + r.url + " is larger than the expected " +
                  std::to_string(r.expected_size) + " bytes; " + r.hint);
    }
    if (o.code == CURLE_OK) break;
    if (range_refused(o) && !restarted) {  // start over from byte 0, once
      part.truncate();
      md5 = std::make_unique<Digest>(DigestKind::kMd5);
      have = 0;
      restarted = true;
      continue;
    }
    const std::string failure = "cannot download " + r.url + ": " + o.message;
    if (!worth_retrying(o) || attempt >= kAttempts) {
      if (keeps_the_part(o) && have > 0) {
        throw IncompleteDownload(failure + "; the " + std::to_string(have) +
                                 " bytes that arrived are kept in " + part_path.string() +
                                 ": run the same command again to resume; " + r.hint);
      }
      throw Error(failure + "; " + r.hint);
    }
    if (!r.quiet) {
      std::fprintf(stderr, "%s; resuming after %lld bytes (try %d of %d)\n", failure.c_str(),
                   static_cast<long long>(have), attempt + 1, kAttempts);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250 * attempt));
  }
  if (r.expected_size > 0 && have != r.expected_size) {
    throw Error("the download of " + r.url + " has " + std::to_string(have) + " bytes, expected " +
                std::to_string(r.expected_size) + "; " + r.hint);
  }
  return md5->finish_hex();
}

}  // namespace

std::string download_resumable(const DownloadRequest& r, const fs::path& part_path) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  PartFile part(part_path);  // throws, touching nothing, while another process holds it
  try {
    return download_into(r, part, part_path);
  } catch (const IncompleteDownload&) {
    throw;  // what arrived stays for the next run
  } catch (...) {
    std::error_code ec;  // a wrong or unwritable file: nothing in it is worth resuming
    fs::remove(part_path, ec);
    throw;
  }
}

}  // namespace collab
