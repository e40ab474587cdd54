// Train/validation splits of a ratings table, and the description of how to make one (the
// `data.split` section of a run config and the `eval` section of a compare config; both are read
// by protocol.h). The splits that need no files live here; k-fold and leave-last-k-out, which
// compare also runs fold by fold, are in protocol.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collab/data/ratings.h"

namespace collab {

struct Split {
  Ratings train;
  Ratings valid;
  // Test ratings drop_unseen_from_test removed (their user or item is not in `train`).
  int64_t dropped_unseen = 0;
};

enum class ProtocolKind {
  kRandom,           // fastai's RandomSplitter (random_split)
  kPredefinedKFold,  // train and test files; data.split "predefined" is its one-fold case
  kKFold,            // kfold_split
  kLeaveLastKOut,    // leave_last_k_out
  kTemporal,         // temporal_split: before a cut-off time in train, after it in test
  kStratified,       // stratified_split: the same fraction of every user's ratings in test
};

// How to split a dataset: one split (a run's `data.split`, `single`) or a protocol of several
// (compare's `eval`, one per seed or fold).
struct ProtocolConfig {
  ProtocolKind kind = ProtocolKind::kPredefinedKFold;
  std::string name = "predefined_kfold";       // as written in the config
  std::vector<uint64_t> seeds = {42};          // random, stratified: one split per seed
  double valid_pct = 0.2;                      // random, stratified
  int64_t folds = 5;                           // predefined_kfold, kfold
  uint64_t seed = 42;                          // kfold: the permutation
  std::string train_pattern = "u{fold}.base";  // predefined_kfold: {fold} is 1..folds
  std::string test_pattern = "u{fold}.test";
  int64_t holdout = 1;  // leave_last_k_out: each user's last `holdout` ratings by time
  // temporal: the cut-off as a time (unix seconds; ratings at or after it are test) or as the
  // fraction of the latest ratings that are test. Exactly one is set.
  std::optional<int64_t> before;
  std::optional<double> test_fraction;
  // temporal: test ratings of a user or item first seen after the cut-off stay in the test set
  // (predicted from rows training never updates, as with any split) or, with "unseen": "drop",
  // are removed from it and counted (Dataset::valid_dropped_unseen).
  bool drop_unseen = false;
  // A data.split section: the one split the data section makes (fold_count 1); for kfold, the
  // fold it tests on (0-based; the config says 1-based "fold").
  bool single = false;
  int64_t fold = 0;
  std::string section = "eval";  // where it was read ("eval" or "data.split"), for messages
};

// What a data section without data.split (nor data.train) means: fastai's random split, whose
// keys (valid_pct, split_seed) sit in the data section itself.
inline ProtocolConfig random_data_split() {
  ProtocolConfig p;
  p.kind = ProtocolKind::kRandom;
  p.name = "random";
  p.single = true;
  p.section = "data";
  return p;
}

// fastai's RandomSplitter: a seeded random permutation of the rows; its first
// floor(valid_pct * n) rows are the validation set, the rest the training set. An empty part is
// an error naming `key`, the setting of valid_pct.
Split random_split(const Ratings& all, double valid_pct, uint64_t seed,
                   const std::string& key = "data.valid_pct");

// The global temporal split: ratings strictly before the cut-off time are the training set, those
// at or after it the test set, both in file order. With `test_fraction` q the cut-off is the
// timestamp of the earliest of the latest floor(q * n) ratings, so ratings sharing a timestamp
// stay together on one side: ties at the cut-off all go to the test set (it may hold more than
// q * n). Throws collab::Error naming `section`.before / `section`.test_fraction when a side
// would be empty, and when the ratings have no timestamps.
Split temporal_split(const Ratings& all, std::optional<int64_t> before,
                     std::optional<double> test_fraction, const std::string& section);

// Removes from split.valid the ratings whose user or item never occurs in split.train, adding
// their count to split.dropped_unseen; the rest keep their order.
void drop_unseen_from_test(Split& split);

// The heaviest raters' weight capped (`data.max_ratings_per_user`): a user with more than
// `max_per_user` ratings keeps a random `max_per_user` of them (the first of their rows in one
// seeded permutation, as stratified_split draws them), the others are set apart in `dropped`;
// both keep file order.
struct CappedRatings {
  Ratings kept;
  Ratings dropped;
  int64_t users_capped = 0;
};
CappedRatings cap_ratings_per_user(const Ratings& all, int64_t max_per_user, uint64_t seed);

// Per-user stratified split: each user's ratings in a seeded random order (one permutation of all
// rows from `seed`, torch's CPU generator as random_split, then grouped by user), the first
// round(valid_pct * n_u) of them, at least 1 and at most n_u - 1, in the test set. So every user
// with 2 or more ratings is in both sets and a user with 1 rating only in training. Both sets
// keep file order. Throws collab::Error naming `section`.valid_pct when no user has 2 ratings.
Split stratified_split(const Ratings& all, double valid_pct, uint64_t seed,
                       const std::string& section);

}  // namespace collab
