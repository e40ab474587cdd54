// A loaded dataset: vocabularies, the train/validation ratings and the item catalogue, read as
// a DataConfig says.
#pragma once

#include <string>
#include <vector>

#include "collab/data/data_config.h"
#include "collab/data/item_catalog.h"
#include "collab/data/ratings.h"
#include "collab/data/ratings_cache.h"
#include "collab/data/vocabulary.h"

namespace collab {

struct Dataset {
  Vocabulary users;
  Vocabulary items;
  Ratings train;
  Ratings valid;
  ItemCatalog catalog;  // empty without an item file
  // Validation ratings whose user or item never occurs in training (their embeddings keep
  // their initial values, decayed).
  int64_t valid_unseen_users = 0;
  int64_t valid_unseen_items = 0;
  // Test ratings a temporal split with "unseen": "drop" removed for the same reason.
  int64_t valid_dropped_unseen = 0;
  // Training ratings data.max_ratings_per_user set apart (not trained on, but still rated by
  // their users: recommend leaves them out), and how many users it capped.
  Ratings capped_out;
  int64_t users_capped = 0;
  // Ratings of a (user, item) pair rated before, in the train or validation ratings. They are
  // kept, each as its own example, as fastai keeps them (a repeated pair weighs more in the
  // loss, and one in both splits leaks into the validation); `collab train` prints a note.
  int64_t duplicate_ratings = 0;
  std::string first_duplicate;  // "user U, item I" (raw ids) of the first one, or ""
  // How each ratings file was read (time, cache use), in reading order.
  std::vector<RatingsReadReport> reads;
};

// Sets `valid_unseen_users` and `valid_unseen_items` from the train and validation ratings.
void count_unseen_in_validation(Dataset& d);

// Sets `duplicate_ratings` and `first_duplicate`. Exact, in bounded memory: passes over the
// ratings, each sorting the (item, row) pairs of a range of users holding at most
// `rows_per_pass` ratings (8 bytes each: 16 MB by default; a user with more takes a pass alone),
// where a hash set of every pair took about 40 bytes a rating (800 MB for 20M ratings).
void count_duplicate_ratings(Dataset& d, int64_t rows_per_pass = int64_t{1} << 21);

// Reads config.items (when set) into d.items and d.catalog, keyed as config.item_key says.
void load_item_catalog(const DataConfig& config, Dataset& d);

// Under data.item_key "title", throws naming `path` and the first item id its ratings added to
// d.items that the catalogue lacks (such an item has no title to be keyed by); else nothing.
void check_rated_items_titled(const DataConfig& config, const Dataset& d, const std::string& path);

// Reads the files `config` names and splits data.ratings as config.split says (protocol.h's
// split_ratings). Vocabularies cover the item catalogue, the training and the
// validation ratings, in that order of first appearance: like fastai's items, which it takes
// from the whole table, validation-only users and items get rows of their own that training
// never updates (fastai maps validation-only users to its shared #na# row instead).
Dataset load_dataset(const DataConfig& config);

}  // namespace collab
