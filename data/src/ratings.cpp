#include "collab/data/ratings.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"
#include "collab/data/delimited.h"

namespace collab {

namespace {

int32_t checked_index(int64_t index, const char* what) {
  if (index < 0 || index > std::numeric_limits<int32_t>::max()) {
    throw Error(std::string("more than 2^31 distinct ") + what + " ids");
  }
  return static_cast<int32_t>(index);
}

uint32_t bits_of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

}  // namespace

RatingValues RatingValues::from_codes(std::vector<float> table, std::vector<uint8_t> codes) {
  if (table.size() > kMaxCodes) {
    throw Error("rating codes: a table of " + std::to_string(table.size()) + " values (at most " +
                std::to_string(kMaxCodes) + ")");
  }
  for (const uint8_t c : codes) {
    if (c >= table.size()) throw Error("rating codes: code " + std::to_string(c) + " has no value");
  }
  RatingValues v;
  v.table_ = std::move(table);
  v.codes_ = std::move(codes);
  return v;
}

RatingValues RatingValues::from_floats(std::vector<float> floats) {
  RatingValues v;
  v.coded_ = false;
  v.floats_ = std::move(floats);
  return v;
}

RatingValues::View RatingValues::view() const {
  View v;
  if (coded_) {
    v.codes = codes_.data();
    v.table = table_.data();
  } else {
    v.floats = floats_.data();
  }
  return v;
}

void RatingValues::reserve(size_t n) {
  if (coded_) {
    codes_.reserve(n);
  } else {
    floats_.reserve(n);
  }
}

int RatingValues::code_of(float value) {
  const uint32_t bits = bits_of(value);
  if (last_code_ >= 0 && bits_of(table_[static_cast<size_t>(last_code_)]) == bits) {
    return last_code_;
  }
  for (size_t c = 0; c < table_.size(); ++c) {
    if (bits_of(table_[c]) == bits) return last_code_ = static_cast<int>(c);
  }
  if (table_.size() == kMaxCodes) return -1;
  table_.push_back(value);
  return last_code_ = static_cast<int>(table_.size() - 1);
}

void RatingValues::to_floats() {
  std::vector<float> floats;
  floats.reserve(std::max(codes_.capacity(), codes_.size() + 1));
  for (const uint8_t c : codes_) floats.push_back(table_[c]);
  coded_ = false;
  floats_ = std::move(floats);
  codes_ = std::vector<uint8_t>();
  table_ = std::vector<float>();
  last_code_ = -1;
}

void RatingValues::push_back(float value) {
  if (coded_) {
    const int code = code_of(value);
    if (code >= 0) {
      codes_.push_back(static_cast<uint8_t>(code));
      return;
    }
    to_floats();
  }
  floats_.push_back(value);
}

void RatingValues::set(size_t k, float value) {
  if (coded_) {
    const int code = code_of(value);
    if (code >= 0) {
      codes_[k] = static_cast<uint8_t>(code);
      return;
    }
    to_floats();
  }
  floats_[k] = value;
}

void RatingValues::swap_rows(size_t a, size_t b) {
  if (coded_) {
    std::swap(codes_[a], codes_[b]);
  } else {
    std::swap(floats_[a], floats_[b]);
  }
}

RatingValues RatingValues::select(const std::vector<int64_t>& rows) const {
  RatingValues out;
  out.coded_ = coded_;
  if (coded_) {
    out.table_ = table_;
    out.codes_.reserve(rows.size());
    for (const int64_t r : rows) out.codes_.push_back(codes_[static_cast<size_t>(r)]);
  } else {
    out.floats_.reserve(rows.size());
    for (const int64_t r : rows) out.floats_.push_back(floats_[static_cast<size_t>(r)]);
  }
  return out;
}

std::vector<float> RatingValues::to_vector() const {
  if (!coded_) return floats_;
  std::vector<float> out;
  out.reserve(codes_.size());
  for (const uint8_t c : codes_) out.push_back(table_[c]);
  return out;
}

void Ratings::reserve(size_t n) {
  users.reserve(n);
  items.reserve(n);
  ratings.reserve(n);
}

void Ratings::push_back(int64_t user, int64_t item, float rating, int64_t timestamp) {
  const bool keep_timestamp = timestamp != 0 || !timestamps.empty();
  if (keep_timestamp && timestamps.size() < ratings.size()) {
    timestamps.reserve(users.capacity());
    timestamps.resize(ratings.size(), 0);  // the rows before had none
  }
  users.push_back(checked_index(user, "user"));
  items.push_back(checked_index(item, "item"));
  ratings.push_back(rating);
  if (keep_timestamp) timestamps.push_back(timestamp);
}

Ratings Ratings::select(const std::vector<int64_t>& rows) const {
  // A selection of ratings with timestamps has them all, even when the selected ones are 0.
  Ratings out;
  out.users.reserve(rows.size());
  out.items.reserve(rows.size());
  if (!timestamps.empty()) out.timestamps.reserve(rows.size());
  for (const int64_t r : rows) {
    const auto i = static_cast<size_t>(r);
    out.users.push_back(users[i]);
    out.items.push_back(items[i]);
    if (!timestamps.empty()) out.timestamps.push_back(timestamps[i]);
  }
  out.ratings = ratings.select(rows);
  return out;
}

namespace {

// A file's raw ids -> its own indices. Ids written as small canonical decimal numbers (most
// data sets: "196", "0") skip the string hash through a direct table; the vocabulary stays the
// one authority on indices, so "07" and "7" remain different ids.
class LocalIds {
 public:
  int64_t index(std::string_view raw) {
    uint32_t value = 0;
    if (small_number(raw, value)) {
      if (value < numeric_.size() && numeric_[value] >= 0) return numeric_[value];
      const int64_t index = vocabulary_.add(raw);
      if (value >= numeric_.size()) {
        numeric_.resize(std::max<size_t>(value + 1, std::min<size_t>(2 * numeric_.size(), kMax)),
                        -1);
      }
      numeric_[value] = static_cast<int32_t>(index);
      return index;
    }
    return vocabulary_.add(raw);
  }
  const std::vector<std::string>& raws() const { return vocabulary_.raws(); }

 private:
  static constexpr uint32_t kMax = 1u << 21;  // table of at most 8 MB
  static bool small_number(std::string_view s, uint32_t& value) {
    if (s.empty() || s.size() > 7 || (s[0] == '0' && s.size() > 1)) return false;
    uint32_t v = 0;
    for (const char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    if (v >= kMax) return false;
    value = v;
    return true;
  }
  Vocabulary vocabulary_;
  std::vector<int32_t> numeric_;
};

// Newlines in the file, for an exact reservation (a second pass over the page cache costs less
// than vectors doubling past the data's size).
size_t count_lines(std::istream& in, std::vector<char>& buffer) {
  size_t lines = 1;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = static_cast<size_t>(in.gcount());
    for (const char* p = buffer.data();
         (p = static_cast<const char*>(std::memchr(p, '\n', buffer.data() + got - p)));) {
      ++lines;
      ++p;
    }
  }
  in.clear();
  in.seekg(0);
  return lines;
}

// The rating in field `text`, checked: a finite number that fits a float, inside the format's
// rating range. `where()` prefixes errors with the file and line.
template <class Where>
double parse_rating(std::string_view text, const RatingsFormat& format, bool first_line,
                    const Where& where) {
  double rating = 0;
  if (text.size() == 1 && text[0] >= '0' && text[0] <= '9') {
    rating = text[0] - '0';  // the common case, without from_chars
  } else {
    auto [rp, rec] = std::from_chars(text.data(), text.data() + text.size(), rating);
    if (rec != std::errc() || rp != text.data() + text.size()) {
      std::string hint = first_line && !format.header
                             ? " (if the file starts with a header, set data.header to true)"
                             : "";
      throw Error(where() + "rating " + quoted_for_message(text) + " is not a number" + hint);
    }
  }
  if (!std::isfinite(rating)) {
    throw Error(where() + "rating " + quoted_for_message(text) + " is not finite");
  }
  // Ratings are stored as float, and training squares errors in float: a rating of 1e38 would
  // overflow to inf and the run would "diverge" for no fault of its learning rate.
  if (std::fabs(rating) > kMaxRatingMagnitude) {
    throw Error(where() + "rating " + quoted_for_message(text) +
                " is too large (collab trains on ratings within +-1e6)");
  }
  if (format.rating_range &&
      (rating < format.rating_range->first || rating > format.rating_range->second)) {
    std::ostringstream msg;
    msg << where() << "rating " << text << " is outside data.rating_range ["
        << format.rating_range->first << ", " << format.rating_range->second << "]";
    throw Error(msg.str());
  }
  return rating;
}

// The id in field `text` as UTF-8 under a declared encoding (converted into `buffer` when it is
// not ASCII), or an error naming the file, line and field when the file is declared UTF-8 and
// the id is not.
template <class Where>
std::string_view decoded_id(std::string_view text, const char* what, TextEncoding encoding,
                            std::string& buffer, const Where& where) {
  const bool ascii = std::all_of(text.begin(), text.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  // Every MovieLens id is ASCII: no copy. Under "auto" ids stay the file's bytes, as before
  // files could declare an encoding (JSON outputs show bytes that are not UTF-8 as U+FFFD).
  if (ascii || encoding == TextEncoding::kAuto) return text;
  if (!decode_to_utf8(text, encoding, buffer)) {
    throw Error(where() + what + " id " + quoted_for_message(text) +
                " is not valid UTF-8 (set data.encoding to \"latin-1\" for a latin-1 file)");
  }
  return buffer;
}

// Calls on_line(line) for every line of `in`, read in chunks of buffer.size() bytes; the partial
// line at a chunk's end moves to the front of the next, and the buffer grows for a line longer
// than it.
template <class OnLine>
void for_each_chunked_line(std::istream& in, std::vector<char>& buffer, const std::string& path,
                           OnLine&& on_line) {
  size_t carry = 0;
  while (true) {
    if (carry == buffer.size()) buffer.resize(2 * buffer.size());  // a line longer than a chunk
    in.read(buffer.data() + carry, static_cast<std::streamsize>(buffer.size() - carry));
    const size_t got = static_cast<size_t>(in.gcount());
    if (in.bad()) throw Error(path + ": read error");
    const size_t end = carry + got;
    const bool last = got == 0 || in.eof();
    size_t pos = 0;
    while (pos < end) {
      const char* nl = static_cast<const char*>(std::memchr(buffer.data() + pos, '\n', end - pos));
      if (!nl) break;
      const auto line_end = static_cast<size_t>(nl - buffer.data());
      on_line(std::string_view(buffer.data() + pos, line_end - pos));
      pos = line_end + 1;
    }
    if (last) {
      if (pos < end) on_line(std::string_view(buffer.data() + pos, end - pos));
      return;
    }
    carry = end - pos;
    std::memmove(buffer.data(), buffer.data() + pos, carry);
  }
}

// The parser behind parse_ratings_file and parse_ratings: `in` holds the text, `path` names it.
ParsedRatings parse_ratings_stream(std::istream& in, const std::string& path,
                                   const RatingsFormat& format) {
  // Chunks of 4 MiB, or the whole text when shorter: parse_ratings on a short string (the
  // fuzzer calls it thousands of times a second) should not clear 4 MiB each time.
  constexpr size_t kChunk = 4 << 20;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0);
  const size_t chunk =
      size >= 0 && static_cast<size_t>(size) < kChunk ? static_cast<size_t>(size) + 1 : kChunk;
  std::vector<char> buffer(chunk);
  const size_t max_lines = count_lines(in, buffer);

  ParsedRatings parsed;
  Ratings& out = parsed.ratings;
  out.reserve(max_lines);
  LocalIds users, items;
  std::string id_text;  // a decoded id's buffer, reused
  size_t line_no = 0;
  auto where = [&] { return path + ":" + std::to_string(line_no) + ": "; };
  for_each_chunked_line(in, buffer, path, [&](std::string_view line) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // A UTF-8 byte-order mark (Windows editors write one) is not part of the first user id.
    if (line_no == 1 && starts_with_bom(line)) line.remove_prefix(3);
    if (line_no == 1 && format.header) return;
    if (trim(line).empty()) return;

    std::string_view f[4];
    const size_t n = split_fields(line, format.delimiter, f, 4);
    if (n < 3 || n > 4) {
      throw Error(where() +
                  "expected 3 or 4 fields (user, item, rating[, timestamp]) separated by " +
                  delimiter_name(format.delimiter) + ", got " +
                  (n > 4 ? std::string("more than 4") : std::to_string(n)));
    }
    if (f[0].empty() || f[1].empty()) throw Error(where() + "empty user or item id");
    const double rating = parse_rating(f[2], format, line_no == 1, where);
    int64_t timestamp = 0;
    if (n == 4) {
      auto [tp, tec] = std::from_chars(f[3].data(), f[3].data() + f[3].size(), timestamp);
      if (tec != std::errc() || tp != f[3].data() + f[3].size()) {
        throw Error(where() + "timestamp " + quoted_for_message(f[3]) + " is not an integer");
      }
    }
    const std::string_view user = decoded_id(f[0], "user", format.encoding, id_text, where);
    const int64_t user_index = users.index(user);
    const std::string_view item = decoded_id(f[1], "item", format.encoding, id_text, where);
    out.push_back(user_index, items.index(item), static_cast<float>(rating), timestamp);
  });
  if (out.size() == 0) throw Error(path + ": no ratings in the file");
  parsed.user_ids = users.raws();
  parsed.item_ids = items.raws();
  return parsed;
}

// Maps a file's own indices onto `vocabulary`'s, rewriting `indices` unless the map is the
// identity (the first file read into empty vocabularies).
void reindex(const std::vector<std::string>& raws, Vocabulary& vocabulary,
             std::vector<int32_t>& indices, const char* what) {
  std::vector<int32_t> map(raws.size());
  bool identity = true;
  for (size_t k = 0; k < raws.size(); ++k) {
    map[k] = checked_index(vocabulary.add(raws[k]), what);
    identity = identity && map[k] == static_cast<int32_t>(k);
  }
  if (identity) return;
  for (int32_t& index : indices) index = map[static_cast<size_t>(index)];
}

}  // namespace

Ratings merge_into_vocabularies(ParsedRatings&& parsed, Vocabulary& users, Vocabulary& items) {
  reindex(parsed.user_ids, users, parsed.ratings.users, "user");
  reindex(parsed.item_ids, items, parsed.ratings.items, "item");
  return std::move(parsed.ratings);
}

Ratings read_ratings(const std::string& path, const RatingsFormat& format, Vocabulary& users,
                     Vocabulary& items) {
  return merge_into_vocabularies(parse_ratings_file(path, format), users, items);
}

ParsedRatings parse_ratings_file(const std::string& path, const RatingsFormat& format) {
  require_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  return parse_ratings_stream(in, path, format);
}

Ratings parse_ratings(std::string_view text, const std::string& origin, const RatingsFormat& format,
                      Vocabulary& users, Vocabulary& items) {
  std::istringstream in{std::string(text)};
  return merge_into_vocabularies(parse_ratings_stream(in, origin, format), users, items);
}

}  // namespace collab
