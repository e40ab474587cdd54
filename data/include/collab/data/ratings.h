// Ratings as parallel arrays of vocabulary indices, and the reader of delimited ratings files
// (MovieLens' u.data, CSV exports, LIBMF's "user item rating"): one
// `user, item, rating[, timestamp]` row per line.
//
// Storage is compact so that tens of millions of ratings fit in memory: 12 bytes per rating
// (int32 user and item indices, a float rating), plus 8 for a timestamp only when the file has
// a timestamp column.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collab/data/vocabulary.h"

namespace collab {

struct Ratings {
  std::vector<int32_t> users;  // indices into the user vocabulary
  std::vector<int32_t> items;  // indices into the item vocabulary
  std::vector<float> ratings;
  // Empty while no row has a non-zero timestamp (then every timestamp reads as 0), else one
  // per rating.
  std::vector<int64_t> timestamps;

  size_t size() const { return ratings.size(); }
  int64_t timestamp(size_t row) const { return timestamps.empty() ? 0 : timestamps[row]; }
  void reserve(size_t n);
  void push_back(int64_t user, int64_t item, float rating, int64_t timestamp);
  // The rows at `rows`, in that order.
  Ratings select(const std::vector<int64_t>& rows) const;
};

struct RatingsFormat {
  char delimiter = '\t';  // u.data is tab-separated; ',' for CSV; ' ' also splits at runs of spaces
  bool header = false;    // skip the first line
  // Ratings outside [lo, hi] are an error; unset accepts any finite rating.
  std::optional<std::pair<double, double>> rating_range;
};

// A file's ratings as parsed, before they meet a shared vocabulary: indices into the file's own
// raw ids, numbered in order of first appearance in the file. This is what the binary cache
// (ratings_cache.h) stores.
struct ParsedRatings {
  Ratings ratings;
  std::vector<std::string> user_ids;
  std::vector<std::string> item_ids;
};

// Parses `path` (streamed in chunks, so the text is never held whole in memory); throws
// collab::Error naming the file and line of any malformed row. Accepts CRLF line endings and
// blank lines.
ParsedRatings parse_ratings_file(const std::string& path, const RatingsFormat& format);

// Adds `parsed`'s raw ids to the vocabularies (in the file's order of first appearance, which
// gives the same vocabularies as adding them row by row) and returns its ratings re-indexed into
// them, consuming `parsed`.
Ratings merge_into_vocabularies(ParsedRatings&& parsed, Vocabulary& users, Vocabulary& items);

// parse_ratings_file, then merge_into_vocabularies.
Ratings read_ratings(const std::string& path, const RatingsFormat& format, Vocabulary& users,
                     Vocabulary& items);
// The same from the file's text already in memory; `origin` names it in error messages.
Ratings parse_ratings(std::string_view text, const std::string& origin, const RatingsFormat& format,
                      Vocabulary& users, Vocabulary& items);

// The whole file as bytes; throws collab::Error naming it when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace collab
