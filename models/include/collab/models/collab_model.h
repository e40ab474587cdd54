// The interface every collaborative-filtering architecture implements: a Torch module that maps
// [N, 2] (user index, item index) pairs to [N] predicted ratings. The trainer, metrics and
// commands see models only through it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <torch/torch.h>

namespace collab {

// How many users and items the vocabularies hold: the rows of the embedding tables.
struct ModelShape {
  int64_t n_users = 0;
  int64_t n_items = 0;
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
};

using CollabModel = std::shared_ptr<CollabModelImpl>;

}  // namespace collab
