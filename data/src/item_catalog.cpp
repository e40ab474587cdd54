#include "collab/data/item_catalog.h"

#include <algorithm>
#include <filesystem>
#include <string_view>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/text.h"

namespace collab {

const std::array<const char*, kMovieLensGenres> kMovieLensGenreNames = {
    "unknown",     "Action", "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama",  "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance",     "Sci-Fi", "Thriller",  "War",       "Western"};

void ItemCatalog::resize(int64_t n) {
  release_dates.resize(static_cast<size_t>(n));
  genres.resize(static_cast<size_t>(n), std::vector<uint8_t>(genre_names.size(), 0));
}

const char* catalogue_layout_name(CatalogueLayout layout) {
  switch (layout) {
    case CatalogueLayout::kMoviesDat:
      return "movies.dat";
    case CatalogueLayout::kMoviesCsv:
      return "movies.csv";
    case CatalogueLayout::kCsv:
      return "csv";
    case CatalogueLayout::kUItem:
      break;
  }
  return "u.item";
}

CatalogueLayout guess_catalogue_layout(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (name == "movies.dat") return CatalogueLayout::kMoviesDat;
  if (name == "movies.csv") return CatalogueLayout::kMoviesCsv;
  return CatalogueLayout::kUItem;
}

ItemCatalog read_item_catalog(const std::string& path, const CatalogueFormat& format,
                              Vocabulary& items) {
  return parse_item_catalog(read_file(path), path, format, items);
}

ItemCatalog read_movielens_items(const std::string& path, Vocabulary& items) {
  return read_item_catalog(path, CatalogueFormat{}, items);
}

ItemCatalog parse_movielens_items(std::string_view text, const std::string& origin,
                                  Vocabulary& items) {
  return parse_item_catalog(text, origin, CatalogueFormat{}, items);
}

std::string year_of_title(std::string_view title) {
  title = trim(title);
  if (title.empty() || title.back() != ')') return "";
  const size_t open = title.rfind('(');
  if (open == std::string_view::npos || title.size() - open < 6) return "";
  const std::string_view year = title.substr(open + 1, 4);
  const bool digits =
      std::all_of(year.begin(), year.end(), [](char c) { return c >= '0' && c <= '9'; });
  // "(1995)" or a range "(2010-2012)", "(2006–2007)"; not "(12345)".
  const char after = title[open + 5];
  if (!digits || (after >= '0' && after <= '9')) return "";
  return std::string(year);
}

ItemCatalog key_catalog_by_title(const ItemCatalog& by_id, const Vocabulary& ids,
                                 const std::string& origin, Vocabulary& items) {
  ItemCatalog catalog;
  catalog.genre_names = by_id.genre_names;
  for (int64_t id = 0; id < ids.size(); ++id) {
    const std::string& title = ids.title(id);
    if (!ids.has_titles() || title == ids.raw(id) || title.empty()) {
      throw Error(origin + ": item " + ids.raw(id) +
                  " has no title of its own; data.item_key \"title\" needs one per item");
    }
    const auto known = items.find(title);
    if (known && items.raw(*known) != title) {
      throw Error(origin + ": the title of item " + ids.raw(id) + ", \"" + title +
                  "\", is also an item id; data.item_key \"title\" cannot tell them apart");
    }
    const int64_t index = known ? *known : items.add(title);
    if (!known) {
      catalog.resize(items.size());
      catalog.release_dates[static_cast<size_t>(index)] =
          by_id.release_dates[static_cast<size_t>(id)];
      catalog.genres[static_cast<size_t>(index)] = by_id.genres[static_cast<size_t>(id)];
    }
    try {
      items.add_alias(ids.raw(id), index);
    } catch (const Error& e) {
      throw Error(origin +
                  ": item ids and titles clash under data.item_key \"title\": " + e.what());
    }
  }
  return catalog;
}

}  // namespace collab
