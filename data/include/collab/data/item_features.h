// Content features of items for the content-based models (ContentBased, HybridDotProductBias,
// FeatureBiases): the catalogue's genres (or labels) followed by a one-hot release decade, as a
// float matrix whose rows follow the item vocabulary. The columns are read from the data
// (ItemFeatureSchema::of); their names travel with the model (checkpoints, exports), so that a
// model rebuilt without the data knows its width and `similar --features` names columns as the
// data does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "collab/data/item_catalog.h"

namespace collab {

// MovieLens 100k's columns: u.item's 19 genres, then release decades 1920s (and earlier) ..
// 2000s (and later) (the data spans 1922-1998): what models saved before schemas were stored
// were trained on.
constexpr int kFirstDecade = 1920;
constexpr int kDecadeFeatures = 9;
constexpr int kItemFeatures = kMovieLensGenres + kDecadeFeatures;

struct ItemFeatureSchema {
  std::vector<std::string> genres;
  int first_decade = kFirstDecade;  // the first decade column (and every year before it)
  int decades = kDecadeFeatures;    // consecutive decades; the last also takes later years

  // MovieLens 100k's 28 columns (kItemFeatures).
  static ItemFeatureSchema movielens_100k();
  // The catalogue's genres, and decades covering 1920s..2000s and every year in the catalogue
  // (so MovieLens 100k's schema is movielens_100k(), and a catalogue of 1874-2018 gets
  // 1870s..2010s).
  static ItemFeatureSchema of(const ItemCatalog& catalog);
  // The inverse of names(); throws collab::Error when the names end in no run of decades.
  static ItemFeatureSchema from_names(const std::vector<std::string>& names);

  int64_t size() const { return static_cast<int64_t>(genres.size()) + decades; }
  // The genres, then "1920s", "1930s", ...
  std::vector<std::string> names() const;
  // The column of `year`'s decade, clamped to the first and last decade.
  int64_t decade_column(int year) const;
};

// The year of a MovieLens release date ("01-Jan-1995" -> 1995) or of a bare year ("1995");
// nullopt when absent or unreadable.
std::optional<int> release_year(const std::string& date);

// float [n_items, schema.size()]: row i holds catalogue item i's genre flags and a 1 in its
// release decade's column (none when the date is unknown). Rows the catalogue lacks (items seen
// only in ratings) are all zero.
torch::Tensor item_feature_matrix(const ItemCatalog& catalog, const ItemFeatureSchema& schema,
                                  int64_t n_items);

// One item's features from a comma-separated list of genre names (case-insensitive), decades
// ("1990s") or release years ("1994"), e.g. "Thriller,Crime,1991": float [schema.size()].
// Throws collab::Error naming an unknown entry and listing the valid names.
torch::Tensor parse_item_features(const std::string& spec, const ItemFeatureSchema& schema);

// MovieLens 100k's schema: the column names, the decade column of a year.
std::vector<std::string> item_feature_names();
int decade_feature(int year);

}  // namespace collab
