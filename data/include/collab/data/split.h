// Train/validation splits of a ratings table.
#pragma once

#include <cstdint>

#include "collab/data/ratings.h"

namespace collab {

struct Split {
  Ratings train;
  Ratings valid;
};

// fastai's RandomSplitter: a seeded random permutation of the rows; its first
// floor(valid_pct * n) rows are the validation set, the rest the training set.
Split random_split(const Ratings& all, double valid_pct, uint64_t seed);

}  // namespace collab
