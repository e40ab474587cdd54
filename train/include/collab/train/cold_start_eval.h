// The user cold-start protocol (issue 18): hold out whole users, train on everyone else, then for
// each held-out user reveal 0, 1, 3, 5, 10 of their ratings and score the rest, for every way
// collab has of answering for a user it never saw:
//   item bias        the learned item bias with the mean user's bias, no factors
//   mean user        the mean of the trained user vectors
//   representative   the trained user nearest that mean (infer/fold_in.h representative_user)
//   metadata         the vector the side-information model predicts (infer/user_metadata_model.h)
//   fold-in          the user vector solved from the revealed ratings, prior at the mean user
//   fold-in+meta     the same with the prior centred on the metadata prediction
// The first four do not read the revealed ratings; they are reported per reveal count anyway so
// the table reads across. Every reveal count is scored on the same ratings (each user's ratings
// after the first max(reveal) in a seeded shuffle), so the columns compare like with like; users
// with no more ratings than max(reveal) are left out. Ratings of items no warm user rated (whose
// embeddings are untrained) are not scored, and such items are never recommended.
//
// The item side (evaluate_item_cold_start, item_cold_start_eval.cpp) mirrors it: hold out whole
// items (the same fraction), train on the rest, reveal 0, 1, 3, 5, 10 ratings of each held-out
// item and score its other ratings, for
//   mean item        the mean of the trained item vectors (factors and bias)
//   metadata         the vector item_metadata_model.h predicts from the item's genres and decade
//   fold-in          the item vector solved from the revealed ratings (the users' vectors held
//                    fixed), prior at the mean item (infer/fold_in.h fold_in_item)
//   fold-in+meta     the same with the prior centred on the metadata prediction
// Items with no more ratings than max(reveal) are left out, as are ratings by users with no
// training rating. NDCG@k is taken over each user's scored held-out-item ratings: those items
// ranked by the prediction, against the ones the user rated >= the relevance threshold (so it
// says how well a strategy orders new items for a user, not how they rank among the catalogue).
// Needs the data's item catalogue and a model with item views (DotProduct, DotProductBias).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collab/train/run_config.h"

namespace collab {

struct ColdStartOptions {
  std::string user_file;  // u.user
  std::vector<int64_t> reveal = {0, 1, 3, 5, 10};
  std::vector<uint64_t> seeds = {1, 2, 3, 4, 5};  // one split of the users (and training) each
  double holdout_fraction = 0.2;                  // of the users (or items)
  double prior_weight = 0.8;                      // fold-in (infer/fold_in.h)
  int64_t k = 10;                                 // NDCG@k
  double relevance_threshold = 4.0;               // a scored rating this high is relevant
};

struct ColdStartResult {
  std::string side = "users";           // what was held out: "users" or "items"
  size_t baseline = 1;                  // the strategy row paired differences are taken from
  std::vector<std::string> strategies;  // row names, in the order above
  std::vector<int64_t> reveal;
  // rmse[seed][strategy][reveal]
  std::vector<std::vector<std::vector<double>>> rmse;
  // ndcg[seed][strategy][reveal]: NDCG@k (infer/ranking_metrics.h) of the top k among every item
  // a warm user rated, the revealed ones left out, against the user's scored ratings >= the
  // relevance threshold. NaN for "item bias" on a model without one (its RMSE too).
  std::vector<std::vector<std::vector<double>>> ndcg;
  std::vector<int64_t> held_out_users;  // per seed: users (items, for the item side) scored
  std::vector<int64_t> scored_ratings;  // per seed
  std::vector<double> metadata_ridge;   // per seed: the ridge strength chosen
};

// Runs the protocol on the data and model of `run` (its train and valid ratings pooled; the warm
// users' ratings split again 90/10 for the trainer's validation). Throws collab::Error when the
// model has no user vectors, or the user file lists fewer than 10 of the users.
ColdStartResult evaluate_user_cold_start(const RunConfig& run, const ColdStartOptions& options);

// The item side (options.user_file unused). Throws collab::Error when the data has no item
// catalogue or the model no item views.
ColdStartResult evaluate_item_cold_start(const RunConfig& run, const ColdStartOptions& options);

}  // namespace collab
