// A binary cache of parsed ratings files: parsing a 20M-line text file takes seconds, reading
// back its parsed arrays a fraction of one. One cache file per (ratings file, format), named by a
// hash of the file's absolute path and format, holding the file's size and modification time
// (ns) when it was parsed, the format, the file's own raw ids and the int32/float arrays. A cache
// whose recorded size, mtime, path or format differs from the file's now is stale: the file is
// parsed again and the cache rewritten. Truncated or corrupt caches count as stale too. Caches
// are written to a temporary file and renamed, so readers never see a partial one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "collab/data/ratings.h"

namespace collab {

enum class CacheMode { kAuto, kAlways, kNever };

struct RatingsCacheOptions {
  CacheMode mode = CacheMode::kAuto;  // kAuto: files of at least auto_min_bytes
  std::string dir;                    // "": default_ratings_cache_dir()
  int64_t auto_min_bytes = 16 << 20;  // below this a text parse takes well under 0.1 s
};

// $COLLAB_CACHE_DIR, else $XDG_CACHE_HOME/collab/ratings, else ~/.cache/collab/ratings.
std::string default_ratings_cache_dir();

// The cache file for `file` read with `format` under `dir`.
std::string ratings_cache_path(const std::string& file, const RatingsFormat& format,
                               const std::string& dir);

// How a ratings file was read, for the user and the benchmarks.
struct RatingsReadReport {
  std::string path;
  size_t ratings = 0;
  double seconds = 0;
  bool from_cache = false;
  std::string note;  // "cache written", "stale cache replaced", "cache not written: ...", ...
};

// `path`'s ratings, from its cache when that is fresh, else parsed (and cached as `cache` says).
ParsedRatings read_parsed_ratings(const std::string& path, const RatingsFormat& format,
                                  const RatingsCacheOptions& cache,
                                  RatingsReadReport* report = nullptr);

}  // namespace collab
