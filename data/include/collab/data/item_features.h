// Content features of items for the content-based models (ContentBased, HybridDotProductBias):
// MovieLens' 19 genre flags followed by a one-hot release decade, as a float matrix whose rows
// follow the item vocabulary. The width is a constant, not something read from the data, so a
// model can be rebuilt from its config alone (checkpoint, export) and then receive its saved
// feature buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "collab/data/item_catalog.h"

namespace collab {

// Release decades 1920s (and earlier) .. 2000s (and later): MovieLens 100k spans 1922-1998.
constexpr int kFirstDecade = 1920;
constexpr int kDecadeFeatures = 9;
constexpr int kItemFeatures = kMovieLensGenres + kDecadeFeatures;

// Column names: the genre names ("Action", ...), then "1920s" .. "2000s".
std::vector<std::string> item_feature_names();

// The year of a MovieLens release date ("01-Jan-1995" -> 1995); nullopt when absent or unreadable.
std::optional<int> release_year(const std::string& date);

// The column of `year`'s decade, clamped to the first and last decade.
int decade_feature(int year);

// float [n_items, kItemFeatures]: row i holds catalogue item i's genre flags and a 1 in its
// release decade's column (none when the date is unknown). Rows the catalogue lacks (items seen
// only in ratings) are all zero.
torch::Tensor item_feature_matrix(const ItemCatalog& catalog, int64_t n_items);

// One item's features from a comma-separated list of genre names (case-insensitive), decades
// ("1990s") or release years ("1994"), e.g. "Thriller,Crime,1991": float [kItemFeatures].
// Throws collab::Error naming an unknown entry and listing the valid names.
torch::Tensor parse_item_features(const std::string& spec);

}  // namespace collab
