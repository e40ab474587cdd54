#include "collab/data/ratings_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "collab/common/error.h"
#include "collab/common/file_io.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'C', 'O', 'L', 'L', 'A', 'B', 'R', 'C'};
constexpr char kEndMagic[8] = {'C', 'O', 'L', 'L', 'A', 'B', 'R', 'E'};
// 2: ratings as one-byte codes into a table of values; 3: the key holds the inode and ctime;
// 4: the key's delimiter is a string ("::") and holds the encoding of ids
constexpr uint32_t kVersion = 4;

uint64_t fnv1a(const std::string& text, uint64_t h = 1469598103934665603ull) {
  for (const unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// What makes a cache entry valid for a file: the file as it is now and how it is parsed.
struct Key {
  std::string path;  // absolute
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  // The inode's change time, which any write sets to now and which, unlike the mtime, no user
  // tool can set back (an in-place edit with `touch -r` restoring size and mtime still shows),
  // and the inode itself (a file replaced by another of the same size and mtime).
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  std::string delimiter = "\t";
  uint32_t encoding = 0;  // TextEncoding
  uint32_t header = 0;
  uint32_t has_range = 0;
  double range_lo = 0, range_hi = 0;

  bool operator==(const Key& o) const {
    return path == o.path && size == o.size && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns &&
           inode == o.inode && delimiter == o.delimiter && encoding == o.encoding &&
           header == o.header && has_range == o.has_range && range_lo == o.range_lo &&
           range_hi == o.range_hi;
  }
};

std::string absolute_path(const std::string& file) {
  std::error_code ec;
  const fs::path p = fs::absolute(file, ec);
  return (ec ? fs::path(file) : p).lexically_normal().string();
}

std::optional<Key> key_of(const std::string& file, const RatingsFormat& format) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return std::nullopt;
  Key k;
  k.path = absolute_path(file);
  k.size = static_cast<uint64_t>(st.st_size);
  k.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  k.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  k.inode = static_cast<uint64_t>(st.st_ino);
  k.delimiter = format.delimiter;
  k.encoding = static_cast<uint32_t>(format.encoding);
  k.header = format.header ? 1 : 0;
  if (format.rating_range) {
    k.has_range = 1;
    k.range_lo = format.rating_range->first;
    k.range_hi = format.rating_range->second;
  }
  return k;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Buffers the cache's many small fields and hands them to the atomic file in large writes.
class Writer {
 public:
  explicit Writer(AtomicFile& file) : file_(file) {}
  void bytes(const void* data, size_t n) {
    buffer_.append(static_cast<const char*>(data), n);
    if (buffer_.size() >= (1u << 20)) flush();
  }
  template <typename T>
  void value(T v) {
    bytes(&v, sizeof v);
  }
  void string(const std::string& s) {
    value(static_cast<uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  template <typename T>
  void array(const std::vector<T>& v) {
    bytes(v.data(), v.size() * sizeof(T));
  }
  void flush() {
    file_.write(buffer_);
    buffer_.clear();
  }

 private:
  AtomicFile& file_;
  std::string buffer_;
};

class Reader {
 public:
  explicit Reader(std::FILE* f) : f_(f) {}
  bool bytes(void* data, size_t n) {
    return ok_ = ok_ && (n == 0 || std::fread(data, 1, n, f_) == n);
  }
  template <typename T>
  T value() {
    T v{};
    bytes(&v, sizeof v);
    return v;
  }
  std::string string(size_t max) {
    const auto n = value<uint32_t>();
    if (!ok_ || n > max) return ok_ = false, std::string();
    std::string s(n, '\0');
    bytes(s.data(), n);
    return s;
  }
  template <typename T>
  void array(std::vector<T>& v, size_t n) {
    v.resize(n);
    bytes(v.data(), n * sizeof(T));
  }
  bool ok() const { return ok_; }

 private:
  std::FILE* f_;
  bool ok_ = true;
};

void write_key(Writer& w, const Key& k) {
  w.string(k.path);
  w.value(k.size);
  w.value(k.mtime_ns);
  w.value(k.ctime_ns);
  w.value(k.inode);
  w.string(k.delimiter);
  w.value(k.encoding);
  w.value(k.header);
  w.value(k.has_range);
  w.value(k.range_lo);
  w.value(k.range_hi);
}

Key read_key(Reader& r) {
  Key k;
  k.path = r.string(1 << 16);
  k.size = r.value<uint64_t>();
  k.mtime_ns = r.value<int64_t>();
  k.ctime_ns = r.value<int64_t>();
  k.inode = r.value<uint64_t>();
  k.delimiter = r.string(1 << 10);
  k.encoding = r.value<uint32_t>();
  k.header = r.value<uint32_t>();
  k.has_range = r.value<uint32_t>();
  k.range_lo = r.value<double>();
  k.range_hi = r.value<double>();
  return k;
}

// Why a cache file cannot be used, or "" when `out` now holds its ratings.
std::string load(const std::string& cache_path, const Key& key, ParsedRatings& out) {
  File f(std::fopen(cache_path.c_str(), "rb"));
  if (!f) return "missing";
  Reader r(f.get());
  char magic[8];
  if (!r.bytes(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) return "not a ratings cache";
  if (r.value<uint32_t>() != kVersion) return "another cache version";
  if (!(read_key(r) == key) || !r.ok()) return "stale";
  const auto n = r.value<uint64_t>();
  const auto n_users = r.value<uint64_t>();
  const auto n_items = r.value<uint64_t>();
  const auto has_timestamps = r.value<uint32_t>();
  // A cache never holds more ratings than its file has bytes (a rating line takes at least 6).
  if (!r.ok() || n > key.size || n_users > n || n_items > n) return "corrupt";
  out.user_ids.resize(n_users);
  for (auto& id : out.user_ids) id = r.string(1 << 20);
  out.item_ids.resize(n_items);
  for (auto& id : out.item_ids) id = r.string(1 << 20);
  Ratings& ratings = out.ratings;
  r.array(ratings.users, n);
  r.array(ratings.items, n);
  const auto coded = r.value<uint32_t>();
  if (coded) {
    const auto table_size = r.value<uint32_t>();
    if (!r.ok() || table_size > RatingValues::kMaxCodes) return "corrupt";
    std::vector<float> table;
    std::vector<uint8_t> codes;
    r.array(table, table_size);
    r.array(codes, n);
    if (!r.ok()) return "truncated or corrupt";
    try {
      ratings.ratings = RatingValues::from_codes(std::move(table), std::move(codes));
    } catch (const Error&) {
      return "corrupt";
    }
  } else {
    std::vector<float> floats;
    r.array(floats, n);
    ratings.ratings = RatingValues::from_floats(std::move(floats));
  }
  if (has_timestamps) r.array(ratings.timestamps, n);
  char end[8];
  if (!r.bytes(end, 8) || std::memcmp(end, kEndMagic, 8) != 0 || std::fgetc(f.get()) != EOF) {
    return "truncated or corrupt";
  }
  for (size_t k = 0; k < n; ++k) {
    if (static_cast<uint64_t>(ratings.users[k]) >= n_users ||
        static_cast<uint64_t>(ratings.items[k]) >= n_items) {
      return "corrupt";
    }
  }
  return "";
}

// Writes the cache atomically (common/file_io.h); returns an error or "": a cache that cannot be
// written is no reason to fail the read.
std::string store(const std::string& cache_path, const Key& key, const ParsedRatings& parsed) {
  std::error_code ec;
  fs::create_directories(fs::path(cache_path).parent_path(), ec);
  if (ec) return "cannot create " + fs::path(cache_path).parent_path().string();
  try {
    AtomicFile file(cache_path);
    Writer w(file);
    w.bytes(kMagic, 8);
    w.value(kVersion);
    write_key(w, key);
    const Ratings& r = parsed.ratings;
    w.value(static_cast<uint64_t>(r.size()));
    w.value(static_cast<uint64_t>(parsed.user_ids.size()));
    w.value(static_cast<uint64_t>(parsed.item_ids.size()));
    w.value(static_cast<uint32_t>(r.timestamps.empty() ? 0 : 1));
    for (const auto& id : parsed.user_ids) w.string(id);
    for (const auto& id : parsed.item_ids) w.string(id);
    w.array(r.users);
    w.array(r.items);
    w.value(static_cast<uint32_t>(r.ratings.coded() ? 1 : 0));
    if (r.ratings.coded()) {
      w.value(static_cast<uint32_t>(r.ratings.table().size()));
      w.array(r.ratings.table());
      w.array(r.ratings.codes());
    } else {
      w.array(r.ratings.floats());
    }
    w.array(r.timestamps);
    w.bytes(kEndMagic, 8);
    w.flush();
    file.commit();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

std::string default_ratings_cache_dir() {
  if (const char* dir = std::getenv("COLLAB_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return (fs::path(xdg) / "collab" / "ratings").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".cache" / "collab" / "ratings").string();
}

std::string ratings_cache_path(const std::string& file, const RatingsFormat& format,
                               const std::string& dir) {
  std::string what = absolute_path(file);
  what += '\0';
  what += format.delimiter;
  what += '\0';
  what += text_encoding_name(format.encoding);
  what += format.header ? '1' : '0';
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.ratings", static_cast<unsigned long long>(fnv1a(what)));
  return (fs::path(dir.empty() ? default_ratings_cache_dir() : dir) / name).string();
}

ParsedRatings read_parsed_ratings(const std::string& path, const RatingsFormat& format,
                                  const RatingsCacheOptions& cache, RatingsReadReport* report) {
  const auto start = std::chrono::steady_clock::now();
  RatingsReadReport local;
  RatingsReadReport& rep = report ? *report : local;
  rep = RatingsReadReport();
  rep.path = path;
  auto finish = [&](ParsedRatings parsed) {
    rep.ratings = parsed.ratings.size();
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return parsed;
  };

  const std::optional<Key> key = key_of(path, format);
  const bool use = key && (cache.mode == CacheMode::kAlways ||
                           (cache.mode == CacheMode::kAuto &&
                            key->size >= static_cast<uint64_t>(cache.auto_min_bytes)));
  if (!use) return finish(parse_ratings_file(path, format));

  const std::string cache_path = ratings_cache_path(path, format, cache.dir);
  ParsedRatings parsed;
  const std::string why = load(cache_path, *key, parsed);
  if (why.empty()) {
    rep.from_cache = true;
    rep.note = "from cache " + cache_path;
    return finish(std::move(parsed));
  }
  parsed = parse_ratings_file(path, format);
  const std::string error = store(cache_path, *key, parsed);
  rep.note = !error.empty()     ? "cache not written: " + error
             : why == "missing" ? "cache written to " + cache_path
                                : why + " cache replaced: " + cache_path;
  return finish(std::move(parsed));
}

}  // namespace collab
