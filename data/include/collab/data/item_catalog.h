// Item side information: MovieLens' u.item ('|'-separated, latin-1) gives each movie a title,
// a release date and 19 genre flags. Titles go into the item vocabulary; dates and genres are
// kept here, aligned with the vocabulary's indices, as the seed of content-based models.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collab/data/vocabulary.h"

namespace collab {

constexpr int kMovieLensGenres = 19;
extern const std::array<const char*, kMovieLensGenres> kMovieLensGenreNames;

struct ItemCatalog {
  std::vector<std::string> release_dates;                     // "01-Jan-1995"; "" when unknown
  std::vector<std::array<uint8_t, kMovieLensGenres>> genres;  // 0/1 flags
  bool empty() const { return genres.empty(); }
  // Grows the arrays to `n` items (items seen only in ratings have no date and no genre).
  void resize(int64_t n);
};

// Reads a MovieLens u.item file, adding its ids to `items` with their titles (converted from
// latin-1 to UTF-8 where they are not UTF-8 already).
ItemCatalog read_movielens_items(const std::string& path, Vocabulary& items);
// The same from the file's text already in memory; `origin` names it in error messages.
ItemCatalog parse_movielens_items(std::string_view text, const std::string& origin,
                                  Vocabulary& items);

// Re-keys an id-keyed catalogue (`ids` as read_movielens_items filled it) by title, as fastai's
// from_df(item_name='title') does: `items` gets one entry per distinct title, its raw name the
// title, in order of first appearance, and every item id becomes an alias of its title's entry
// (so ratings and queries naming ids land on it). Ids sharing a title share the first id's date
// and genres (MovieLens 100k's 18 such pairs agree on both). Throws naming `origin` and the id
// for an empty title or a title that equals another item's id.
ItemCatalog key_catalog_by_title(const ItemCatalog& by_id, const Vocabulary& ids,
                                 const std::string& origin, Vocabulary& items);

}  // namespace collab
