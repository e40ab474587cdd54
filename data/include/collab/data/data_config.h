// The `data` section of a config: which files hold the ratings, how they are split, and where
// named datasets (the MovieLens releases of datasets.h) live on disk.
//
//   "data": {
//     "dataset": "ml-100k",     // optional: names a known dataset (datasets.h: ml-100k, ml-1m,
//                               // ml-10m, ml-20m, ml-25m, ml-latest-small, ml-latest); relative
//                               // file names then resolve inside <data root>/<its folder>,
//                               // fetched when missing, and its ratings and item files, their
//                               // delimiter, header and encoding are the defaults below
//     "dir": "...",             // folder for relative file names (default: the config's folder)
//     "ratings": "u.data",      // one file, split at random by valid_pct and split_seed ...
//     "valid_pct": 0.2, "split_seed": 42,
//     "train": "u1.base", "valid": "u1.test",   // ... or a predefined split
//     "split": {"kind": "temporal", "test_fraction": 0.2},  // ... or any split, in place of
//                               // valid_pct, split_seed, train and valid (protocol.h lists the
//                               // kinds: random, predefined, kfold, leave_last_k_out,
//                               // temporal, stratified)
//     "items": "u.item",        // optional item catalogue (titles, genres; item_catalog.h)
//     "items_format": "u.item", // "u.item", "movies.dat", "movies.csv" or "csv"; guessed from
//                               // the file name (movies.dat, movies.csv, else u.item)
//     "items_delimiter": ",",   // "csv" only, with "item_columns": {"id": "movieId",
//                               // "title": "title", "labels": ["genres"]} (header names)
//     "item_key": "id",         // "id": one vocabulary entry per item id; "title": one per
//                               // catalogue title (fastai's item_name='title'), needs data.items
//     "delimiter": "\t", "header": false, "rating_range": null,
//     "max_ratings_per_user": 0,  // > 0: caps each user's training ratings (split.h)
//     "encoding": "auto",       // of the text files: "utf-8", "latin-1" (MovieLens 1M/10M .dat),
//                               // or "auto" (UTF-8 when valid, else latin-1)
//     "cache": "auto",          // binary cache of parsed ratings (ratings_cache.h): "auto" (files
//                               // of 16 MiB or more), "always", "never"
//     "cache_dir": ""           // default $COLLAB_CACHE_DIR or ~/.cache/collab/ratings
//   }
// Paths may use ${VAR}; ${COLLAB_DATA_DIR} defaults to the data root when the variable is unset.
#pragma once

#include <cstdint>
#include <string>

#include "collab/common/config_reader.h"
#include "collab/data/item_catalog.h"
#include "collab/data/ratings.h"
#include "collab/data/ratings_cache.h"
#include "collab/data/split.h"

namespace collab {

// What names an item in the item vocabulary (data.item_key).
enum class ItemKey {
  kId,     // its raw id in the ratings
  kTitle,  // its title in data.items: ids sharing a title share one entry, as in fastai's
           // from_df(ratings.merge(movies), item_name='title')
};

struct DataConfig {
  std::string dataset;  // "" or a known dataset name ("ml-100k", datasets.h)
  std::string dir;      // resolved folder of the dataset's files
  std::string ratings;  // resolved path, or "" with a predefined split
  std::string train;    // resolved paths of a predefined split
  std::string valid;
  std::string items;             // resolved path of an item catalogue, or ""
  CatalogueFormat items_format;  // its layout and encoding
  ItemKey item_key = ItemKey::kId;
  RatingsFormat format;
  RatingsCacheOptions cache;
  double valid_pct = 0.2;
  uint64_t split_seed = 42;
  // How data.ratings is split (data.split, protocol.h). A random split keeps its settings in
  // valid_pct and split_seed, a predefined one its files in train and valid, whether the old
  // keys or data.split gave them.
  ProtocolConfig split = random_data_split();
  // > 0: a user with more training ratings keeps a random this many (cap_ratings_per_user,
  // seeded by split_seed), so a few enthusiastic raters cannot set everyone's recommendations.
  int64_t max_ratings_per_user = 0;

  bool predefined_split() const { return !train.empty(); }
};

// Where named datasets live: $COLLAB_DATA_DIR, else $XDG_DATA_HOME/collab, else
// ~/.local/share/collab.
std::string default_data_root();

// Expands ${VAR} (throws naming `key` for an unset variable other than COLLAB_DATA_DIR) and
// resolves a relative result against `base_dir`.
std::string resolve_path(const std::string& value, const std::string& base_dir,
                         const std::string& key);

// The user file that goes with `data` when none is named: u.user or users.dat (MovieLens 100k's,
// 1M's) beside the item file, else in the data folder; "" when there is none.
std::string default_user_file(const DataConfig& data);

// Reads the `data` section; `config_dir` is the folder relative paths start from.
DataConfig read_data_config(ConfigReader& reader, const std::string& config_dir);

}  // namespace collab
