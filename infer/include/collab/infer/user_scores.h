// Every item's score for blocks of a model's trained users, and each user's top-k unseen items
// from them: what `collab recommend --user` and `--all-users` rank with and what the ranking
// metrics score, so that one user's list is the same whichever of them asks. Models with a
// linear_user_model() (the dot-product and bias families) score a block of users as one matrix
// product (on the CPU our own kernel, user_item_products.h: a user's row is then the same bits in
// any block); CollabNN by its own block scorer (its first layer split into user and item halves);
// any other by a batched forward() of every (user, item) pair.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <torch/torch.h>

#include "collab/infer/top_k.h"
#include "collab/models/collab_model.h"

namespace collab {

class UserScorer {
 public:
  // `model` in eval mode with its parameters on `device`, scoring its `n_items` items.
  // `block_pairs` bounds the (user, item) scores one block holds (0: a default that keeps a
  // block's working memory to tens of MB).
  UserScorer(CollabModelImpl& model, int64_t n_items, torch::Device device = torch::kCPU,
             int64_t block_pairs = 0);

  int64_t n_items() const { return n_items_; }
  // How many users one block of ranking_keys() should hold.
  int64_t users_per_block() const { return users_per_block_; }

  // float [B, n_items] on the CPU for `users` (int64 [B]; rows may be padded: read them by
  // stride(0)), in the order of the predicted
  // ratings: for a linear model the rating before sigmoid_range (which only squashes, so the
  // full matrix is not passed through it; saturated ratings keep their order), otherwise the
  // prediction itself.
  torch::Tensor ranking_keys(const torch::Tensor& users) const;
  // The predicted ratings of `keys` (any shape, any floating type): sigmoid_range where
  // ranking_keys() left it out, the keys themselves otherwise.
  torch::Tensor ratings_of_keys(const torch::Tensor& keys) const;
  // Predicted ratings float [B, n_items] of `users`, as forward() gives them up to rounding.
  torch::Tensor ratings(const torch::Tensor& users) const;

 private:
  CollabModelImpl& model_;
  int64_t n_items_;
  torch::Device device_;
  int64_t users_per_block_ = 1;
  // Linear models: the user vectors with a trailing 1 [n_users, d + 1] and the item design with
  // the offset as its last row [d + 1, n_items], so a block is one matrix product with no
  // separate pass adding the offset. Undefined for the others.
  torch::Tensor user_rows_;
  torch::Tensor item_columns_;
  // Non-linear models with a block scorer (CollabModelImpl::block_items): its item part.
  torch::Tensor block_items_;
};

// One user's recommendations: `user` (index) and the items best first, scored as predicted
// ratings.
struct UserTopK {
  int64_t user;
  std::vector<ScoredItem> items;
};

// The `k` best items (k <= 0: all) of each of `users`, leaving out the items `seen[user]`
// (ascending) holds; `seen` empty leaves out nothing. Works in blocks of
// scorer.users_per_block() users, ranking a block's users on all of LibTorch's threads, and
// hands each block's lists, in the order of `users`, to `on_block` before scoring the next.
// `stop` (may be empty) is asked before each block; returns false when it stopped the work.
// Ties go to the lower item index and NaN ranks last, as top_k().
bool top_k_for_users(const UserScorer& scorer, const std::vector<int64_t>& users,
                     const std::vector<std::vector<int64_t>>& seen, int64_t k,
                     const std::function<void(std::vector<UserTopK>&&)>& on_block,
                     const std::function<bool()>& stop = {});

}  // namespace collab
