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
  // How each ratings file was read (time, cache use), in reading order.
  std::vector<RatingsReadReport> reads;
};

// Sets `valid_unseen_users` and `valid_unseen_items` from the train and validation ratings.
void count_unseen_in_validation(Dataset& d);

// Reads the files `config` names. Vocabularies cover the item catalogue, the training and the
// validation ratings, in that order of first appearance.
Dataset load_dataset(const DataConfig& config);

}  // namespace collab
