// Evaluation protocols: how `collab compare` turns one dataset into the train/test splits that
// every candidate is trained and scored on. The `eval` section of a compare config names one:
//
//   "eval": {"protocol": "random", "seeds": [1, 2, 3], "valid_pct": 0.2}
//   "eval": {"protocol": "predefined_kfold", "folds": 5,
//            "train_pattern": "u{fold}.base", "test_pattern": "u{fold}.test"}  // MovieLens' u1..u5
//   "eval": {"protocol": "kfold", "folds": 5, "seed": 42}
//   "eval": {"protocol": "leave_last_k_out", "holdout": 1}
//
// Random and predefined folds load exactly as `collab train` loads a data section with
// data.split_seed / data.train + data.valid, so a fold's numbers can be reproduced with
// `collab train`. Generated k-fold and leave-last-k-out split the one ratings file data.ratings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collab/common/config_reader.h"
#include "collab/data/data_config.h"
#include "collab/data/dataset.h"
#include "collab/data/split.h"

namespace collab {

enum class ProtocolKind { kRandom, kPredefinedKFold, kKFold, kLeaveLastKOut };

struct ProtocolConfig {
  ProtocolKind kind = ProtocolKind::kPredefinedKFold;
  std::string name = "predefined_kfold";       // as written in the config
  std::vector<uint64_t> seeds = {42};          // random: one split per seed
  double valid_pct = 0.2;                      // random
  int64_t folds = 5;                           // predefined_kfold, kfold
  uint64_t seed = 42;                          // kfold: the permutation
  std::string train_pattern = "u{fold}.base";  // predefined_kfold: {fold} is 1..folds
  std::string test_pattern = "u{fold}.test";
  int64_t holdout = 1;  // leave_last_k_out: each user's last `holdout` ratings by time
};

// Reads the protocol's keys of the `eval` section (protocol, seeds, valid_pct, folds, seed,
// train_pattern, test_pattern, holdout); a key that belongs to another protocol is an error
// naming it. Does not call finish(): the caller reads its own keys (k, ...) from the same section.
ProtocolConfig read_protocol_config(ConfigReader& eval);

// How many train/test splits the protocol makes, and a short name for split `index` ("u1",
// "seed42", "fold3", "last1").
int64_t fold_count(const ProtocolConfig& protocol);
std::string fold_name(const ProtocolConfig& protocol, int64_t index);

// The data section `collab train` would read to get split `index` of a random or predefined
// protocol (data.split_seed and data.valid_pct, or data.train and data.valid set); `data` is the
// shared section of the comparison. Throws collab::Error for the generated protocols.
DataConfig fold_data_config(const DataConfig& data, const ProtocolConfig& protocol, int64_t index);

// Loads split `index`: vocabularies, train and test ratings and the item catalogue. Vocabularies
// are built as load_dataset builds them (catalogue, then train, then test ratings, in order of
// first appearance) for random and predefined folds; for generated folds they follow the whole
// ratings file. Throws collab::Error naming a missing file.
Dataset load_fold(const DataConfig& data, const ProtocolConfig& protocol, int64_t index);

// k-fold of `all`: a permutation drawn from `seed` (torch's CPU generator, as random_split), cut
// into `folds` contiguous parts of floor or ceil n/folds rows; split `index` tests on part
// `index` and trains on the rest, both in file order.
Split kfold_split(const Ratings& all, int64_t folds, uint64_t seed, int64_t index);

// Per user, the `holdout` latest ratings by timestamp (ties: later in the file is later) go to
// the test set; users with at most `holdout` ratings keep all of them in training, so that every
// test user has a history. Both sets keep file order.
Split leave_last_k_out(const Ratings& all, int64_t holdout);

}  // namespace collab
