// The questions a trained model answers, shared by the one-shot commands (`collab recommend`,
// `collab similar`) and the long-lived server (`collab serve`), so both give the same lists:
// a trained user's top-k unseen items, a new user's from a few ratings (fold-in), a user with no
// ratings at all (a fallback ranking), and the items nearest to an item or to a new item's
// content features.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collab/data/user_features.h"
#include "collab/data/vocabulary.h"
#include "collab/infer/top_k.h"
#include "collab/infer/user_scores.h"
#include "collab/models/collab_model.h"
#include "collab/models/user_feature_model.h"
#include "collab/serve/model_source.h"

namespace collab {

struct GivenRating {
  int64_t item;  // index into the model's items
  float rating;
};

// "50:5,Star Wars (1977):4": entries split at commas, each at its last colon; items by raw id or
// title (find_item; titles with commas need their raw id). Throws std::invalid_argument naming
// the entry.
std::vector<GivenRating> parse_given_ratings(const std::string& text, const Vocabulary& items);

// A ranked list of items and how it was made.
struct Recommendations {
  std::vector<ScoredItem> items;  // best first, scored as predicted ratings
  int64_t excluded = 0;           // items left out of the ranking (rated ones)
  std::string mode;               // "trained user", "fold-in", "fallback: item bias", ...
  std::string description;        // one phrase for a human: "user 196"
};

// The top `k` (0: all) items of trained user `raw` (a raw id; unknown ones throw collab::Error
// naming it), by the same blocked scorer and top-k as --all-users, leaving out the items
// `seen[user]` holds (ascending; `seen` empty: none).
Recommendations recommend_for_trained_user(const UserScorer& scorer, const Vocabulary& users,
                                           const std::string& raw,
                                           const std::vector<std::vector<int64_t>>& seen,
                                           int64_t k);

// A new user folded in from `given` (infer/fold_in.h) with the prior pulled by `prior_weight`
// (>= 0), leaving out the given items unless `include_seen`. `prior_mean` (defined: the metadata
// model's prediction, user_vector_from_features) replaces the trained users' mean as the prior's
// centre. Not safe to run on one model from two threads at once: CollabNN's fold-in takes
// gradient steps through the model.
Recommendations recommend_for_new_user(CollabModelImpl& model,
                                       const std::vector<GivenRating>& given, double prior_weight,
                                       bool include_seen, int64_t k,
                                       const torch::Tensor& prior_mean = {});

// A new user with no ratings: `fallback` "bias" (items by learned bias; the default when the
// model has an item bias), "mean-user" (the mean trained user's predictions) or "representative"
// (the trained user nearest the mean user, infer/fold_in.h representative_user; `users` names
// them in the description when given).
Recommendations recommend_without_ratings(CollabModelImpl& model,
                                          const std::optional<std::string>& fallback, int64_t k,
                                          const Vocabulary* users = nullptr);

// The user vector [d] the metadata model `user_model` predicts from `features`. Throws
// collab::Error naming `origin` and the key or value at fault (data/user_features.h), or when
// `user_model` is null: "MODEL has no user feature model (run collab fit-users)".
torch::Tensor user_vector_from_features(const UserFeatureModel* user_model,
                                        const UserFeaturePairs& features,
                                        const std::string& model_path, const std::string& origin);

// A new user with no ratings but side information: the items ranked for `user_vector`
// (user_vector_from_features).
Recommendations recommend_from_features(CollabModelImpl& model, const torch::Tensor& user_vector,
                                        int64_t k);

// What `similar` ranks neighbours of: a trained item's factors, or a new item's built from its
// content features.
struct ItemQuery {
  torch::Tensor vector;
  int64_t item = -1;     // the trained item, or -1
  std::string features;  // the new item's feature list, or ""
};
ItemQuery trained_item_query(const LoadedModel& loaded, const std::string& item);
// The new item's vector comes, in this order, from the architecture's own feature path
// (CollabModelImpl::item_from_features: ContentBased, HybridDotProductBias), else from the item
// metadata model fitted beside the checkpoint or carried by the export (collab fit-items:
// LoadedModel::item_features, its leading item_factor_table() columns). Throws collab::Error
// when there is neither, naming the architecture and fit-items.
ItemQuery new_item_query(const LoadedModel& loaded, const std::string& features);

// The top `k` (0: all) items by cosine similarity of the centred item factors to `query`
// (infer/neighbours.h), leaving out the query item and the items rated fewer than `min_ratings`
// times in training (`item_counts`, per item; empty: none left out).
std::vector<ScoredItem> similar_items(const LoadedModel& loaded, const ItemQuery& query,
                                      const std::vector<int64_t>& item_counts, int64_t min_ratings,
                                      int64_t k);

// The model's predicted ratings of (user, item) index pairs, `flat` [u0, i0, u1, i1, ...], in one
// batched forward pass.
std::vector<double> predict_pairs(CollabModelImpl& model, std::vector<int64_t> flat);

}  // namespace collab
