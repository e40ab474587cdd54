// Ratings as parallel arrays of vocabulary indices, and the reader of delimited ratings files
// (MovieLens' u.data, CSV exports, LIBMF's "user item rating"): one
// `user, item, rating[, timestamp]` row per line.
//
// Storage is compact so that tens of millions of ratings fit in memory: 9 bytes per rating
// (int32 user and item indices, a one-byte code of the rating value) while a file has at most
// 256 distinct rating values (any star scale, half stars, ...), 12 when it has more (float
// ratings), plus 8 for a timestamp only when the file has a timestamp column. The codes are
// exact: each indexes a table of the distinct float values, so every rating reads back as the
// float it was parsed as.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collab/common/utf8.h"
#include "collab/data/vocabulary.h"

namespace collab {

// Float rating values stored as one-byte codes into a table of the distinct values (in order of
// first appearance) while there are at most 256 of them, then as plain floats: the 257th
// distinct value converts the codes once. Values are compared by their bits, so -0 and 0 stay
// apart and every value reads back exactly.
class RatingValues {
 public:
  static constexpr size_t kMaxCodes = 256;

  // Raw pointers for hot loops: value(k) is codes ? table[codes[k]] : floats[k].
  struct View {
    const uint8_t* codes = nullptr;
    const float* table = nullptr;
    const float* floats = nullptr;
    float operator[](size_t k) const { return codes ? table[codes[k]] : floats[k]; }
    View from(size_t first) const {
      View v = *this;
      if (codes) v.codes += first;
      if (floats) v.floats += first;
      return v;
    }
  };

  RatingValues() = default;
  // Values in coded form; throws collab::Error when the table holds more than 256 values or a
  // code is not below its size.
  static RatingValues from_codes(std::vector<float> table, std::vector<uint8_t> codes);
  // Values as floats (more than 256 distinct values).
  static RatingValues from_floats(std::vector<float> floats);

  size_t size() const { return coded_ ? codes_.size() : floats_.size(); }
  bool empty() const { return size() == 0; }
  float operator[](size_t k) const { return coded_ ? table_[codes_[k]] : floats_[k]; }
  View view() const;
  void reserve(size_t n);
  void push_back(float value);
  void set(size_t k, float value);
  void swap_rows(size_t a, size_t b);
  // The values at `rows`, in that order (the same table).
  RatingValues select(const std::vector<int64_t>& rows) const;
  std::vector<float> to_vector() const;

  bool coded() const { return coded_; }
  // Coded form: the distinct values and each rating's code. Float form: floats().
  const std::vector<float>& table() const { return table_; }
  const std::vector<uint8_t>& codes() const { return codes_; }
  const std::vector<float>& floats() const { return floats_; }

 private:
  // The code of `value`, adding it to the table; -1 when the table is full.
  int code_of(float value);
  void to_floats();  // leaves coded form for good

  bool coded_ = true;
  std::vector<float> table_;
  std::vector<uint8_t> codes_;
  std::vector<float> floats_;
  int last_code_ = -1;  // most files repeat few values: a one-entry cache of code_of
};

struct Ratings {
  std::vector<int32_t> users;  // indices into the user vocabulary
  std::vector<int32_t> items;  // indices into the item vocabulary
  RatingValues ratings;
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

// The largest rating magnitude (and y_range bound) collab accepts: squared errors of such values
// stay far inside float's range.
constexpr double kMaxRatingMagnitude = 1e6;

struct RatingsFormat {
  // u.data is tab-separated; "," for CSV (with RFC 4180 quoting); "::" for MovieLens 1M/10M;
  // " " also splits at runs of spaces.
  std::string delimiter = "\t";
  bool header = false;  // skip the first line
  // How ids that are not ASCII are read (utf8.h): converted from latin-1, checked as UTF-8, or
  // under kAuto kept as the file's bytes (as before files could say). MovieLens' ids are ASCII.
  TextEncoding encoding = TextEncoding::kAuto;
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

}  // namespace collab
