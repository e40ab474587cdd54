// The interface every collaborative-filtering architecture implements: a Torch module that maps
// [N, 2] (user index, item index) pairs to [N] predicted ratings. The trainer, metrics and
// commands see models only through it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "collab/models/kernel_tables.h"

namespace collab {

// What the data gives a model: how many users and items the vocabularies hold (the rows of the
// embedding tables) and, for the content-based architectures, the items' features.
struct ModelShape {
  ModelShape() = default;
  ModelShape(int64_t users, int64_t items, torch::Tensor features = {})
      : n_users(users), n_items(items), item_features(std::move(features)) {}

  int64_t n_users = 0;
  int64_t n_items = 0;
  // float [n_items, kItemFeatures] (data/item_features.h), rows in item-vocabulary order; from
  // the data when training. Undefined when a model is rebuilt to receive a saved state
  // (checkpoint, export): feature-based models then start from zeros the state overwrites.
  torch::Tensor item_features;
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

  // The tables the fast kernels train (kernel_tables.h), for the architectures they cover;
  // none otherwise (the model then trains by autograd).
  virtual std::optional<DotTables> dot_tables() { return std::nullopt; }
  virtual std::optional<MlpTables> mlp_tables() { return std::nullopt; }
};

using CollabModel = std::shared_ptr<CollabModelImpl>;

}  // namespace collab
