// Ratings as parallel arrays of vocabulary indices, and the reader of delimited ratings files
// (MovieLens' u.data, CSV exports): one `user, item, rating[, timestamp]` row per line.
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
  std::vector<int64_t> users;  // indices into the user vocabulary
  std::vector<int64_t> items;  // indices into the item vocabulary
  std::vector<float> ratings;
  std::vector<int64_t> timestamps;  // 0 where the file has no timestamp column

  size_t size() const { return ratings.size(); }
  void reserve(size_t n);
  void push_back(int64_t user, int64_t item, float rating, int64_t timestamp);
  // The rows at `rows`, in that order.
  Ratings select(const std::vector<int64_t>& rows) const;
};

struct RatingsFormat {
  char delimiter = '\t';  // u.data is tab-separated; ',' for CSV
  bool header = false;    // skip the first line
  // Ratings outside [lo, hi] are an error; unset accepts any finite rating.
  std::optional<std::pair<double, double>> rating_range;
};

// Reads `path`, adding unseen raw ids to the vocabularies. Accepts CRLF line endings and blank
// lines; throws collab::Error naming the file and line of any malformed row.
Ratings read_ratings(const std::string& path, const RatingsFormat& format, Vocabulary& users,
                     Vocabulary& items);
// The same from the file's text already in memory; `origin` names it in error messages.
Ratings parse_ratings(std::string_view text, const std::string& origin, const RatingsFormat& format,
                      Vocabulary& users, Vocabulary& items);

// The whole file as bytes; throws collab::Error naming it when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace collab
