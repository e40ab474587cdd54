// The interface every collaborative-filtering architecture implements: a Torch module that maps
// [N, 2] (user index, item index) pairs to [N] predicted ratings. The trainer, metrics and
// commands see models only through it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "collab/data/ratings.h"
#include "collab/models/kernel_tables.h"
#include "collab/models/model_views.h"

namespace collab {

// What the data gives a model: how many users and items the vocabularies hold (the rows of the
// embedding tables) and, for the content-based architectures, the items' features.
struct ModelShape {
  ModelShape() = default;
  ModelShape(int64_t users, int64_t items, torch::Tensor features = {})
      : n_users(users), n_items(items), item_features(std::move(features)) {}

  int64_t n_users = 0;
  int64_t n_items = 0;
  // float [n_items, F] (data/item_features.h: F columns named by the data's schema), rows in
  // item-vocabulary order; from the data when training. Undefined when a model is rebuilt to
  // receive a saved state (checkpoint, export): feature-based models then start from zeros
  // [n_items, n_item_features] (the saved buffer's width) that the state overwrites.
  torch::Tensor item_features;
  int64_t n_item_features = 0;  // 0: MovieLens 100k's kItemFeatures (models saved before schemas)
  // The training ratings, for architectures that learn from which items each user rated
  // (SVDpp), read while the model is built; null when it is rebuilt for a saved state.
  const Ratings* train = nullptr;
};

// Predictions squashed into (lo, hi) by sigmoid_range.
struct YRange {
  double lo;
  double hi;
};

class CollabModelImpl : public torch::nn::Module {
 public:
  // x: int64 [N, 2] of (user, item) indices; returns float [N].
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // The registry name ("DotProductBias").
  virtual std::string arch() const = 0;
  virtual std::optional<YRange> y_range() const = 0;

  // Builds this model's TorchScript twin into `m` (export.h drives it): registers the model's
  // parameters and buffers (layers.h: script_tensors) and defines
  // `forward(self, x: Tensor) -> Tensor` computing what forward() computes in eval mode
  // (BatchNorm on running statistics, dropout off). Implemented beside forward() so the two stay
  // one definition. `m` already holds `y_range` and the method `sigmoid_range(self, x)`.
  virtual void script_into(torch::jit::Module& m) const = 0;

  // True for architectures that score items by their content features (ModelShape's
  // item_features): training them needs the data's item catalogue (data.items).
  virtual bool uses_item_features() const { return false; }

  // True for a buffer whose size comes from the training data rather than the config (SVDpp's
  // rated-item lists): loading a saved state (checkpoint, export) takes the saved size for it,
  // where every other tensor must match the rebuilt model's shape.
  virtual bool data_sized_buffer(const std::string& /*name*/) const { return false; }

  // The tables the fast kernels train (kernel_tables.h), for the architectures they cover;
  // none otherwise (the model then trains by autograd).
  virtual std::optional<DotTables> dot_tables() { return std::nullopt; }
  virtual std::optional<MlpTables> mlp_tables() { return std::nullopt; }

  // --- Views for inference beyond forward() (model_views.h): recommend, similar, interpret and
  // fold-in (infer/fold_in.h) read a model only through these. Each architecture implements
  // those it has beside its forward(); the defaults here say "none" (nullopt) or throw a
  // collab::Error naming the architecture. All return detached tensors unless stated.

  // The tables export checks against the vocabularies (model_views.h); none by default.
  virtual RowTables row_tables() const { return {}; }

  // The trained users' vectors [n_users, d]: what stands for a user in linear_user_model() and
  // score_items(). Default: throws.
  virtual torch::Tensor user_vectors() const;

  // The item factors [n_items, f] that item similarity and PCA read. Default: throws.
  virtual torch::Tensor item_factor_table() const;

  // The item side, the mirror of the two views above, where an architecture has it (the item
  // cold start, train/cold_start_eval.h): the trained items' vectors [n_items, d] (factors, plus
  // the bias where the model has one; default: throws), and the prediction as a linear function
  // of the item vector (LinearUserModel's shape with users for rows: design [n_users, d], offset
  // [n_users]; nullopt, the default, where an item enters non-linearly or not at all).
  virtual torch::Tensor item_vectors() const;
  virtual std::optional<LinearUserModel> linear_item_model() const { return std::nullopt; }

  // The learned item bias [n_items] (without any global term); nullopt (the default) for
  // architectures or configurations without one.
  virtual std::optional<torch::Tensor> learned_item_bias() const { return std::nullopt; }

  // The prediction as a linear function of the user vector (model_views.h); nullopt (the
  // default) where a user enters non-linearly.
  virtual std::optional<LinearUserModel> linear_user_model() const { return std::nullopt; }

  // The ratings of every item [n_items] from the biases alone, before sigmoid_range, for a user
  // whose vector is `user_vector` [d]: the item bias, the global term and the user's own bias
  // (where the model has them), no factors. nullopt (the default) without an item bias.
  virtual std::optional<torch::Tensor> bias_ratings(const torch::Tensor& /*user_vector*/) const {
    return std::nullopt;
  }

  // An item unseen in training from its content `features` (data/item_features.h); nullopt (the
  // default) for architectures that do not build an item's factors from its features.
  virtual std::optional<FeatureItem> item_from_features(const torch::Tensor& /*features*/) const {
    return std::nullopt;
  }

  // Predicted ratings of `items` (int64 [m]; undefined: every item, [n_items]) for a user whose
  // vector is `user_vector` [d], as forward() computes them in eval mode. Differentiable in
  // `user_vector` (CollabNN's fold-in takes gradient steps through it); the model should be in
  // eval mode. Default: through linear_user_model(), and throws where there is none.
  virtual torch::Tensor score_items(const torch::Tensor& user_vector,
                                    const torch::Tensor& items = {});

  // Predicted ratings of an item whose vector is `item_vector` [d] by `users` (int64 [m];
  // undefined: every user), through linear_item_model(); throws where there is none.
  torch::Tensor score_users(const torch::Tensor& item_vector, const torch::Tensor& users = {});

  // Every item's predicted rating for blocks of trained users, for a non-linear architecture
  // that can do this faster than forward() over each (user, item) pair (CollabNN splits its first
  // layer into a user half and an item half, so a pair costs an add, not a product). block_items()
  // is what does not depend on the users, computed once; score_user_block() then gives float
  // [B, n_items] for `users` (int64 [B]) as forward() does in eval mode, up to float rounding.
  // nullopt (the default): the caller runs forward() on every pair.
  virtual std::optional<torch::Tensor> block_items() const { return std::nullopt; }
  virtual torch::Tensor score_user_block(const torch::Tensor& /*users*/,
                                         const torch::Tensor& /*block_items*/) {
    no_view("block scoring");
  }

 protected:
  // The collab::Error a view the architecture lacks throws: "architecture "X" has no <what>".
  [[noreturn]] void no_view(const std::string& what) const;
};

// The linear user model of a user vector [factors, bias] against `item_factors` [n_items, f] and
// `item_bias` [n_items, 1]: design [q_i, 1], offset the item bias (DotProductBias, SVDpp); with
// the user tables passed, the linear item model of an item vector [factors, bias].
LinearUserModel factors_and_bias_model(const torch::Tensor& item_factors,
                                       const torch::Tensor& item_bias);

// `table`'s rows `items` (int64 [m]), or the whole table when `items` is undefined.
torch::Tensor rows_of(const torch::Tensor& table, const torch::Tensor& items);

using CollabModel = std::shared_ptr<CollabModelImpl>;

}  // namespace collab
