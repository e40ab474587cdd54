// Item side information from an item catalogue, in each layout MovieLens publishes and a generic
// one (item_catalog_layouts.cpp reads them):
//   u.item      MovieLens 100k: id|title|release date|video date|url|19 genre flags, latin-1
//   movies.dat  MovieLens 1M/10M: MovieID::Title::Genres, genres '|'-separated, latin-1
//   movies.csv  MovieLens 20M/25M/latest: header movieId,title,genres, RFC 4180 quoting, UTF-8
//   csv         any CSV/TSV with a header: an id column, a title column and optional label
//               columns of '|'-separated values, named in the config
// Titles go into the item vocabulary; release dates and genres are kept here, aligned with the
// vocabulary's indices, as the seed of content-based models (item_features.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collab/common/utf8.h"
#include "collab/data/vocabulary.h"

namespace collab {

// u.item's 19 genre flags, in its column order (MovieLens 100k's u.genre).
constexpr int kMovieLensGenres = 19;
extern const std::array<const char*, kMovieLensGenres> kMovieLensGenreNames;

enum class CatalogueLayout { kUItem, kMoviesDat, kMoviesCsv, kCsv };

// How to read a catalogue (data.items_format, data.items_delimiter, data.item_columns).
struct CatalogueFormat {
  CatalogueLayout layout = CatalogueLayout::kUItem;
  TextEncoding encoding = TextEncoding::kAuto;
  // kCsv only: the delimiter and the header names of the columns.
  std::string delimiter = ",";
  std::string id_column = "id";
  std::string title_column = "title";
  std::vector<std::string> label_columns;  // '|'-separated values, each a feature
};

// "u.item", "movies.dat", "movies.csv", "csv": the config's spellings.
const char* catalogue_layout_name(CatalogueLayout layout);
// The layout a catalogue's file name implies (MovieLens' own names), else u.item's.
CatalogueLayout guess_catalogue_layout(const std::string& path);

struct ItemCatalog {
  // The genre (label) vocabulary, one column each: u.item's 19 names in its order; for the
  // other layouts the values found in the file, sorted ("(no genres listed)" is no genre).
  std::vector<std::string> genre_names;
  // Per item, a 0/1 flag per genre_names entry.
  std::vector<std::vector<uint8_t>> genres;
  // u.item's release date ("01-Jan-1995"), or the year a title ends with ("Heat (1995)" ->
  // "1995") for the other layouts; "" when unknown. release_year() reads either.
  std::vector<std::string> release_dates;
  bool empty() const { return genres.empty(); }
  // Grows the arrays to `n` items (items seen only in ratings have no date and no genre).
  void resize(int64_t n);
};

// Reads a catalogue, adding its ids to `items` with their titles (as UTF-8: converted from
// latin-1 as `format.encoding` says). Errors name the file, line and field.
ItemCatalog read_item_catalog(const std::string& path, const CatalogueFormat& format,
                              Vocabulary& items);
// The same from the file's text already in memory; `origin` names it in error messages.
ItemCatalog parse_item_catalog(std::string_view text, const std::string& origin,
                               const CatalogueFormat& format, Vocabulary& items);

// u.item with the encoding guessed (UTF-8 when valid, else latin-1).
ItemCatalog read_movielens_items(const std::string& path, Vocabulary& items);
ItemCatalog parse_movielens_items(std::string_view text, const std::string& origin,
                                  Vocabulary& items);

// The year in parentheses a MovieLens title ends with ("Toy Story (1995)", "Heat (1995) ",
// "Sherlock (2010-2012)" -> "1995", "1995", "2010"); "" when there is none.
std::string year_of_title(std::string_view title);

// Re-keys an id-keyed catalogue (`ids` as read_item_catalog filled it) by title, as fastai's
// from_df(item_name='title') does: `items` gets one entry per distinct title, its raw name the
// title, in order of first appearance, and every item id becomes an alias of its title's entry
// (so ratings and queries naming ids land on it). Ids sharing a title share the first id's date
// and genres (MovieLens 100k's 18 such pairs agree on both). Throws naming `origin` and the id
// for an empty title or a title that equals another item's id.
ItemCatalog key_catalog_by_title(const ItemCatalog& by_id, const Vocabulary& ids,
                                 const std::string& origin, Vocabulary& items);

}  // namespace collab
