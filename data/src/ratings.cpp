#include "collab/data/ratings.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string_view>

#include "collab/common/error.h"
#include "collab/common/text.h"

namespace collab {

void Ratings::reserve(size_t n) {
  users.reserve(n);
  items.reserve(n);
  ratings.reserve(n);
  timestamps.reserve(n);
}

void Ratings::push_back(int64_t user, int64_t item, float rating, int64_t timestamp) {
  users.push_back(user);
  items.push_back(item);
  ratings.push_back(rating);
  timestamps.push_back(timestamp);
}

Ratings Ratings::select(const std::vector<int64_t>& rows) const {
  Ratings out;
  out.reserve(rows.size());
  for (const int64_t r : rows) {
    const auto i = static_cast<size_t>(r);
    out.push_back(users[i], items[i], ratings[i], timestamps[i]);
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw Error(path + ": read error");
  return std::move(bytes).str();
}

namespace {

std::string delimiter_name(char d) {
  if (d == '\t') return "tab";
  if (d == ' ') return "space";
  return std::string("'") + d + "'";
}

// Splits `line` on `delimiter`; a space delimiter also treats runs of spaces as one.
size_t split_fields(std::string_view line, char delimiter, std::string_view* fields, size_t max) {
  size_t n = 0, start = 0;
  while (start <= line.size()) {
    size_t end = line.find(delimiter, start);
    if (end == std::string_view::npos) end = line.size();
    std::string_view field = line.substr(start, end - start);
    if (!(delimiter == ' ' && field.empty())) {
      if (n == max) return max + 1;
      fields[n++] = trim(field);
    }
    start = end + 1;
  }
  return n;
}

}  // namespace

Ratings read_ratings(const std::string& path, const RatingsFormat& format, Vocabulary& users,
                     Vocabulary& items) {
  return parse_ratings(read_file(path), path, format, users, items);
}

Ratings parse_ratings(std::string_view text, const std::string& origin, const RatingsFormat& format,
                      Vocabulary& users, Vocabulary& items) {
  const std::string& path = origin;
  Ratings out;
  out.reserve(text.size() / 24);
  size_t line_no = 0, pos = 0;
  auto where = [&] { return path + ":" + std::to_string(line_no) + ": "; };
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && format.header) continue;
    if (trim(line).empty()) continue;

    std::string_view f[4];
    const size_t n = split_fields(line, format.delimiter, f, 4);
    if (n < 3 || n > 4) {
      throw Error(where() +
                  "expected 3 or 4 fields (user, item, rating[, timestamp]) separated by " +
                  delimiter_name(format.delimiter) + ", got " +
                  (n > 4 ? std::string("more than 4") : std::to_string(n)));
    }
    if (f[0].empty() || f[1].empty()) throw Error(where() + "empty user or item id");
    double rating = 0;
    auto [rp, rec] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), rating);
    if (rec != std::errc() || rp != f[2].data() + f[2].size()) {
      std::string hint = line_no == 1 && !format.header
                             ? " (if the file starts with a header, set data.header to true)"
                             : "";
      throw Error(where() + "rating \"" + std::string(f[2]) + "\" is not a number" + hint);
    }
    if (!std::isfinite(rating)) {
      throw Error(where() + "rating \"" + std::string(f[2]) + "\" is not finite");
    }
    // Ratings are stored as float: a finite double beyond float's range would become inf.
    if (std::fabs(rating) > std::numeric_limits<float>::max()) {
      throw Error(where() + "rating \"" + std::string(f[2]) +
                  "\" is too large (ratings are 32-bit floats)");
    }
    if (format.rating_range &&
        (rating < format.rating_range->first || rating > format.rating_range->second)) {
      std::ostringstream msg;
      msg << where() << "rating " << f[2] << " is outside data.rating_range ["
          << format.rating_range->first << ", " << format.rating_range->second << "]";
      throw Error(msg.str());
    }
    int64_t timestamp = 0;
    if (n == 4) {
      auto [tp, tec] = std::from_chars(f[3].data(), f[3].data() + f[3].size(), timestamp);
      if (tec != std::errc() || tp != f[3].data() + f[3].size()) {
        throw Error(where() + "timestamp \"" + std::string(f[3]) + "\" is not an integer");
      }
    }
    out.push_back(users.add(f[0]), items.add(f[1]), static_cast<float>(rating), timestamp);
  }
  if (out.size() == 0) throw Error(path + ": no ratings in the file");
  return out;
}

}  // namespace collab
