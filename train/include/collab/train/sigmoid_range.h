// A model's output as the CPU training paths (fused_dot.cpp, fused_nn.cpp, sparse_train.cpp)
// compute it in float, with the slope their backward passes need: fastai's sigmoid_range
// sigmoid(x) * (hi - lo) + lo where the model has a y_range, x itself where it has none.
#pragma once

#include <cmath>
#include <optional>

#include "collab/models/collab_model.h"

namespace collab {

struct Prediction {
  float value;
  float slope;  // d value / d x
};

class OutputRange {
 public:
  OutputRange() = default;  // no y_range: the identity
  explicit OutputRange(const std::optional<YRange>& range) {
    if (!range) return;
    squash_ = true;
    lo_ = static_cast<float>(range->lo);
    span_ = static_cast<float>(range->hi - range->lo);
  }

  // The prediction for the raw output x (a dot product plus biases, or the MLP's output).
  Prediction apply(float x) const {
    if (!squash_) return {x, 1.0f};
    const float s = 1.0f / (1.0f + std::exp(-x));
    return {s * span_ + lo_, s * (1.0f - s) * span_};
  }

  // For kernels that compute apply() in vector lanes.
  bool squashes() const { return squash_; }
  float lo() const { return lo_; }
  float span() const { return span_; }

 private:
  bool squash_ = false;
  float lo_ = 0.0f;
  float span_ = 1.0f;
};

}  // namespace collab
