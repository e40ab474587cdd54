// Fuzzes the delimited ratings reader (u.data, CSV exports): parse_ratings on a text buffer.
// Input: one byte choosing the format (delimiter, header, declared rating range), then the text.
#include <cmath>

#include "collab/data/ratings.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* const kDelimiters[] = {"\t", ",", " ", ";", "|", ":", "::", ","};
  collab::RatingsFormat format;
  format.delimiter = kDelimiters[data[0] & 7];
  format.header = (data[0] & 8) != 0;
  if (data[0] & 16) format.rating_range = std::make_pair(1.0, 5.0);
  const std::string_view text = collab::fuzz::as_text(data + 1, size - 1);
  collab::fuzz::expect_accept_or_error([&] {
    collab::Vocabulary users, items;
    const collab::Ratings r = collab::parse_ratings(text, "fuzz.data", format, users, items);
    using collab::fuzz::check;
    check(r.size() > 0, "accepted a file without ratings");
    // Timestamps are stored only when the file has them (Ratings::timestamp reads 0 otherwise).
    check(r.users.size() == r.size() && r.items.size() == r.size() &&
              (r.timestamps.empty() || r.timestamps.size() == r.size()),
          "ratings columns of different lengths");
    for (size_t i = 0; i < r.size(); ++i) {
      check(r.users[i] >= 0 && r.users[i] < users.size(), "user index outside the vocabulary");
      check(r.items[i] >= 0 && r.items[i] < items.size(), "item index outside the vocabulary");
      check(std::isfinite(r.ratings[i]), "accepted a rating that is not finite");
      if (format.rating_range) {
        check(r.ratings[i] >= 1 && r.ratings[i] <= 5, "accepted a rating outside the range");
      }
    }
  });
  return 0;
}
