#include "collab/data/item_catalog.h"

#include <string_view>
#include <unordered_map>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"
#include "collab/data/ratings.h"

namespace collab {

const std::array<const char*, kMovieLensGenres> kMovieLensGenreNames = {
    "unknown",     "Action", "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama",  "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance",     "Sci-Fi", "Thriller",  "War",       "Western"};

void ItemCatalog::resize(int64_t n) {
  release_dates.resize(static_cast<size_t>(n));
  genres.resize(static_cast<size_t>(n), std::array<uint8_t, kMovieLensGenres>{});
}

ItemCatalog read_movielens_items(const std::string& path, Vocabulary& items) {
  return parse_movielens_items(read_file(path), path, items);
}

ItemCatalog parse_movielens_items(std::string_view text, const std::string& origin,
                                  Vocabulary& items) {
  const std::string& path = origin;
  ItemCatalog catalog;
  std::unordered_map<int64_t, size_t> line_of_item;  // to refuse an id listed twice
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // a BOM
    if (trim(line).empty()) continue;

    std::vector<std::string_view> fields;
    size_t start = 0;
    while (true) {
      const size_t bar = line.find('|', start);
      fields.push_back(line.substr(start, bar == std::string_view::npos ? line.npos : bar - start));
      if (bar == std::string_view::npos) break;
      start = bar + 1;
    }
    const size_t expected = 5 + kMovieLensGenres;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (fields.size() != expected) {
      throw Error(
          where + "expected " + std::to_string(expected) +
          " '|'-separated fields (id|title|release date|video date|url|19 genre flags), got " +
          std::to_string(fields.size()));
    }
    if (trim(fields[0]).empty()) throw Error(where + "empty item id");
    const int64_t index = items.add(trim(fields[0]));
    if (const auto [at, first] = line_of_item.emplace(index, line_no); !first) {
      throw Error(where + "item " + quoted_for_message(trim(fields[0])) +
                  " is listed again (first at line " + std::to_string(at->second) +
                  "); which title and genres would be meant?");
    }
    items.set_title(index, to_utf8(trim(fields[1])));
    catalog.resize(items.size());
    catalog.release_dates[static_cast<size_t>(index)] = std::string(trim(fields[2]));
    for (int g = 0; g < kMovieLensGenres; ++g) {
      const std::string_view flag = trim(fields[5 + static_cast<size_t>(g)]);
      if (flag != "0" && flag != "1") {
        throw Error(where + "genre flag " + std::to_string(g + 1) + " (" +
                    kMovieLensGenreNames[static_cast<size_t>(g)] + ") is " +
                    quoted_for_message(flag) + ", expected 0 or 1");
      }
      catalog.genres[static_cast<size_t>(index)][static_cast<size_t>(g)] = flag == "1";
    }
  }
  if (catalog.empty()) throw Error(path + ": no items in the file");
  return catalog;
}

ItemCatalog key_catalog_by_title(const ItemCatalog& by_id, const Vocabulary& ids,
                                 const std::string& origin, Vocabulary& items) {
  ItemCatalog catalog;
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
