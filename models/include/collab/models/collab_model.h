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

  // Builds this model's TorchScript twin into `m` (export.h drives it): registers the model's
  // parameters and buffers (layers.h: script_tensors) and defines
  // `forward(self, x: Tensor) -> Tensor` computing what forward() computes in eval mode
  // (BatchNorm on running statistics, dropout off). Implemented beside forward() so the two stay
  // one definition. `m` already holds `y_range` and the method `sigmoid_range(self, x)`.
  virtual void script_into(torch::jit::Module& m) const = 0;
};

using CollabModel = std::shared_ptr<CollabModelImpl>;

}  // namespace collab
