// Evaluation protocols: how `collab compare` turns one dataset into the train/test splits that
// every candidate is trained and scored on. The `eval` section of a compare config names one:
//
//   "eval": {"protocol": "random", "seeds": [1, 2, 3], "valid_pct": 0.2}
//   "eval": {"protocol": "predefined_kfold", "folds": 5,
//            "train_pattern": "u{fold}.base", "test_pattern": "u{fold}.test"}  // MovieLens' u1..u5
//   "eval": {"protocol": "kfold", "folds": 5, "seed": 42}
//   "eval": {"protocol": "leave_last_k_out", "holdout": 1}
//   "eval": {"protocol": "temporal", "test_fraction": 0.2}     // or "before": <unix seconds>
//   "eval": {"protocol": "stratified", "seeds": [1, 2], "valid_pct": 0.2}
//
// A run's data section names one split the same way, in `data.split` ("kind" for "protocol",
// one "seed" for "seeds", and kfold's "fold"); `collab compare` accepts it instead of
// eval.protocol, and then trains every candidate on that one split:
//
//   "split": {"kind": "random", "valid_pct": 0.2, "seed": 42}   // = data.valid_pct, split_seed
//   "split": {"kind": "predefined", "train": "u1.base", "valid": "u1.test"}  // = data.train/valid
//   "split": {"kind": "kfold", "folds": 5, "fold": 1, "seed": 42}
//   "split": {"kind": "leave_last_k_out", "holdout": 1}
//   "split": {"kind": "temporal", "test_fraction": 0.2}         // or "before": <unix seconds>;
//                                                               // "unseen": "keep" or "drop"
//   "split": {"kind": "stratified", "valid_pct": 0.2, "seed": 42}
//
// Every split of a protocol is the split of a data section (fold_data_config) and loads exactly
// as `collab train` loads that section, so a fold's numbers can be reproduced with `collab
// train`. All but the predefined ones split the one ratings file data.ratings. Test ratings whose
// user or item is not in the training set stay in the test set (Dataset::valid_unseen_users and
// valid_unseen_items count them; `collab train` and `collab compare` print the counts): the model
// predicts them from rows training never updated, as fastai does for ids it keeps from the whole
// table. A temporal split makes many such ratings (users who arrive after the cut-off); its
// "unseen": "drop" removes them from the test set instead and counts them
// (Dataset::valid_dropped_unseen), to score only what training could have learnt.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collab/common/config_reader.h"
#include "collab/data/data_config.h"
#include "collab/data/dataset.h"
#include "collab/data/split.h"

namespace collab {

// Reads the protocol's keys of the `eval` section (protocol, seeds, valid_pct, folds, seed,
// train_pattern, test_pattern, holdout, before, test_fraction); a key that belongs to another
// protocol is an error naming it. Does not call finish(): the caller reads its own keys (k, ...)
// from the same section.
ProtocolConfig read_protocol_config(ConfigReader& eval);

// Reads a `data.split` section (kind and its keys, as above; finishes it): the one split of a
// run. A predefined split's train and valid files resolve against `data_dir` (and are recorded
// resolved). Errors name the key, the value and, for an unknown kind, the known ones.
ProtocolConfig read_split_config(ConfigReader& split, const std::string& data_dir);

// The split of a data section that `collab train` makes of its ratings file read whole (not for
// a predefined split): data.split's kind, or random by data.valid_pct and data.split_seed.
// Throws collab::Error naming the data.split (or eval) key when a part would be empty.
Split split_ratings(const Ratings& all, const DataConfig& data);

// How many train/test splits the protocol makes, and a short name for split `index` ("u1",
// "seed42", "fold3", "last1").
int64_t fold_count(const ProtocolConfig& protocol);
std::string fold_name(const ProtocolConfig& protocol, int64_t index);

// The data section `collab train` would read to get split `index` of the protocol: data.split_seed
// and data.valid_pct, data.train and data.valid, or a data.split of one fold or seed; `data` is
// the shared section of the comparison (returned as is for a `single` protocol, its own split).
DataConfig fold_data_config(const DataConfig& data, const ProtocolConfig& protocol, int64_t index);

// Loads split `index` as load_dataset loads fold_data_config's section: vocabularies (catalogue,
// then train, then test ratings in order of first appearance for predefined folds; the whole
// ratings file's order otherwise), train and test ratings and the item catalogue. Throws
// collab::Error naming a missing file.
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
