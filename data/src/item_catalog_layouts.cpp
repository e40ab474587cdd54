// The readers of each item catalogue layout (item_catalog.h), all on the one delimited-text
// reader (delimited.h), sharing a builder that checks ids, decodes titles and collects genres.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "collab/common/error.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"
#include "collab/data/delimited.h"
#include "collab/data/item_catalog.h"

namespace collab {

namespace {

// MovieLens' genre list of a movie without one: no genre, not a genre of its own.
constexpr std::string_view kNoGenres = "(no genres listed)";

// Collects a catalogue's rows: each id once into the vocabulary with its title as UTF-8, its
// date, and its genres, either as u.item's fixed flags or as label names that finish() turns
// into sorted columns.
class CatalogueBuilder {
 public:
  CatalogueBuilder(const std::string& origin, const CatalogueFormat& format, Vocabulary& items)
      : origin_(origin), format_(format), items_(items) {}

  std::string where(size_t line_no) const { return origin_ + ":" + std::to_string(line_no) + ": "; }

  // `text` as UTF-8 under the format's encoding; `what` names the field in an error.
  std::string decoded(std::string_view text, const char* what, size_t line_no) const {
    std::string out;
    if (!decode_to_utf8(text, format_.encoding, out)) {
      throw Error(where(line_no) + what + " " + quoted_for_message(text) +
                  " is not valid UTF-8 (set data.encoding to \"latin-1\" for a latin-1 file)");
    }
    return out;
  }

  // The row's item: its id added with `title`; throws for an empty or repeated id.
  size_t add(std::string_view raw_id, std::string_view raw_title, size_t line_no) {
    // Ids are decoded as the ratings reader decodes them (ratings.cpp), so the two files' ids
    // meet: under "auto" they stay the file's bytes.
    const std::string id = format_.encoding == TextEncoding::kAuto
                               ? std::string(trim(raw_id))
                               : decoded(trim(raw_id), "item id", line_no);
    if (id.empty()) throw Error(where(line_no) + "empty item id");
    const int64_t index = items_.add(id);
    if (const auto [at, first] = line_of_item_.emplace(index, line_no); !first) {
      throw Error(where(line_no) + "item " + quoted_for_message(id) +
                  " is listed again (first at line " + std::to_string(at->second) +
                  "); which title and genres would be meant?");
    }
    items_.set_title(index, decoded(trim(raw_title), "title", line_no));
    catalog_.resize(items_.size());
    labels_.resize(static_cast<size_t>(items_.size()));
    return static_cast<size_t>(index);
  }

  void set_date(size_t index, std::string date) { catalog_.release_dates[index] = std::move(date); }
  void set_fixed_genres(std::vector<std::string> names) {
    catalog_.genre_names = std::move(names);
    catalog_.resize(0);  // rows are added after, at the names' width
  }
  void set_flag(size_t index, size_t genre) { catalog_.genres[index][genre] = 1; }

  // A '|'-separated list of labels of the item, each named `prefix` + the label.
  void add_labels(size_t index, std::string_view list, const std::string& prefix, size_t line_no) {
    if (trim(list) == kNoGenres) return;
    std::string_view parts[256];
    const size_t n = split_fields(list, "|", parts, 256);
    if (n > 256) throw Error(where(line_no) + "more than 256 '|'-separated labels");
    for (size_t k = 0; k < n; ++k) {
      if (parts[k].empty() || parts[k] == kNoGenres) continue;
      labels_[index].push_back(prefix + decoded(parts[k], "label", line_no));
    }
  }

  ItemCatalog finish() {
    if (catalog_.empty()) throw Error(origin_ + ": no items in the file");
    if (!catalog_.genre_names.empty()) return std::move(catalog_);  // u.item's fixed flags
    std::map<std::string, size_t> column;  // sorted: the columns do not depend on row order
    for (const auto& item_labels : labels_) {
      for (const auto& label : item_labels) column.emplace(label, 0);
    }
    for (auto& [name, c] : column) {
      c = catalog_.genre_names.size();
      catalog_.genre_names.push_back(name);
    }
    for (size_t i = 0; i < catalog_.genres.size(); ++i) {
      catalog_.genres[i].assign(catalog_.genre_names.size(), 0);
      if (i >= labels_.size()) continue;
      for (const auto& label : labels_[i]) catalog_.genres[i][column.at(label)] = 1;
    }
    return std::move(catalog_);
  }

 private:
  const std::string& origin_;
  const CatalogueFormat& format_;
  Vocabulary& items_;
  ItemCatalog catalog_;
  std::vector<std::vector<std::string>> labels_;
  std::unordered_map<int64_t, size_t> line_of_item_;  // to refuse an id listed twice
};

constexpr size_t kMaxColumns = 64;

std::string got(size_t n) {
  return n > kMaxColumns ? "more than " + std::to_string(kMaxColumns) : std::to_string(n);
}

void read_u_item(std::string_view text, CatalogueBuilder& b) {
  b.set_fixed_genres(
      std::vector<std::string>(kMovieLensGenreNames.begin(), kMovieLensGenreNames.end()));
  for_each_record_line(text, false, [&](size_t line_no, std::string_view line) {
    std::string_view f[kMaxColumns];
    const size_t n = split_fields(line, "|", f, kMaxColumns);
    const size_t expected = 5 + kMovieLensGenres;
    if (n != expected) {
      throw Error(
          b.where(line_no) + "expected " + std::to_string(expected) +
          " '|'-separated fields (id|title|release date|video date|url|19 genre flags), got " +
          got(n));
    }
    const size_t index = b.add(f[0], f[1], line_no);
    b.set_date(index, std::string(f[2]));
    for (size_t g = 0; g < kMovieLensGenres; ++g) {
      const std::string_view flag = f[5 + g];
      if (flag != "0" && flag != "1") {
        throw Error(b.where(line_no) + "genre flag " + std::to_string(g + 1) + " (" +
                    kMovieLensGenreNames[g] + ") is " + quoted_for_message(flag) +
                    ", expected 0 or 1");
      }
      if (flag == "1") b.set_flag(index, g);
    }
  });
}

// movies.dat (MovieID::Title::Genres, no header) and movies.csv (movieId,title,genres).
void read_movies(std::string_view text, CatalogueBuilder& b, bool csv) {
  const std::string_view delimiter = csv ? "," : "::";
  const char* shape = csv ? "movieId,title,genres" : "MovieID::Title::Genres";
  for_each_record_line(text, false, [&](size_t line_no, std::string_view line) {
    std::string_view f[kMaxColumns];
    bool quoted[kMaxColumns] = {};
    const size_t n = split_fields(line, delimiter, f, kMaxColumns, quoted);
    if (n == 0)
      throw Error(b.where(line_no) +
                  "a quoted field is not closed, or text follows its closing quote");
    if (n != 3) {
      throw Error(b.where(line_no) + "expected 3 fields (" + shape + ") separated by " +
                  delimiter_name(delimiter) + ", got " + got(n));
    }
    if (csv && line_no == 1 && !quoted[0] && f[0] == "movieId") {
      if (f[1] != "title" || f[2] != "genres") {
        throw Error(b.where(line_no) + "expected the header movieId,title,genres, got " +
                    quoted_for_message(line));
      }
      return;
    }
    const std::string title = field_text(f[1], quoted[1]);
    const size_t index = b.add(f[0], title, line_no);
    b.set_date(index, year_of_title(title));
    b.add_labels(index, f[2], "", line_no);
  });
}

// A CSV/TSV with a header naming the id, title and label columns.
void read_generic(std::string_view text, CatalogueBuilder& b, const CatalogueFormat& format) {
  size_t id = 0, title = 0, width = 0;
  std::vector<std::pair<size_t, std::string>> labels;  // column, feature name prefix
  for_each_record_line(text, false, [&](size_t line_no, std::string_view line) {
    std::string_view f[kMaxColumns];
    bool quoted[kMaxColumns] = {};
    const size_t n = split_fields(line, format.delimiter, f, kMaxColumns, quoted);
    if (n == 0)
      throw Error(b.where(line_no) +
                  "a quoted field is not closed, or text follows its closing quote");
    if (width == 0) {  // the header
      if (n > kMaxColumns) throw Error(b.where(line_no) + "more than 64 columns");
      std::vector<std::string> names;
      for (size_t k = 0; k < n; ++k) names.push_back(field_text(f[k], quoted[k]));
      auto column = [&](const std::string& name, const char* key) {
        const auto at = std::find(names.begin(), names.end(), name);
        if (at == names.end()) {
          std::string list;
          for (const auto& c : names)
            list += (list.empty() ? "" : ", ") + quoted_for_message(c, 40);
          throw Error(b.where(line_no) + "no column " + quoted_for_message(name) +
                      " (data.item_columns." + key + ") in the header; it has " + list);
        }
        return static_cast<size_t>(at - names.begin());
      };
      id = column(format.id_column, "id");
      title = column(format.title_column, "title");
      for (const auto& l : format.label_columns) {
        labels.emplace_back(column(l, "labels"), format.label_columns.size() > 1 ? l + "=" : "");
      }
      width = n;
      return;
    }
    if (n != width) {
      throw Error(b.where(line_no) + "expected " + std::to_string(width) + " fields separated by " +
                  delimiter_name(format.delimiter) + " (as the header has), got " + got(n));
    }
    const std::string title_text = field_text(f[title], quoted[title]);
    const size_t index = b.add(field_text(f[id], quoted[id]), title_text, line_no);
    b.set_date(index, year_of_title(title_text));
    for (const auto& [c, prefix] : labels)
      b.add_labels(index, field_text(f[c], quoted[c]), prefix, line_no);
  });
}

}  // namespace

ItemCatalog parse_item_catalog(std::string_view text, const std::string& origin,
                               const CatalogueFormat& format, Vocabulary& items) {
  CatalogueBuilder builder(origin, format, items);
  switch (format.layout) {
    case CatalogueLayout::kUItem:
      read_u_item(text, builder);
      break;
    case CatalogueLayout::kMoviesDat:
    case CatalogueLayout::kMoviesCsv:
      read_movies(text, builder, format.layout == CatalogueLayout::kMoviesCsv);
      break;
    case CatalogueLayout::kCsv:
      read_generic(text, builder, format);
      break;
  }
  return builder.finish();
}

}  // namespace collab
