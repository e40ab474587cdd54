#include "collab/models/layers.h"

#include <algorithm>
#include <cmath>

namespace collab {

torch::nn::Embedding make_embedding(int64_t n, int64_t dim) {
  torch::nn::Embedding embedding(n, dim);
  torch::NoGradGuard no_grad;
  embedding->weight.normal_(0.0, 1.0).fmod_(2.0).mul_(0.01);
  return embedding;
}

torch::Tensor sigmoid_range(const torch::Tensor& x, const std::optional<YRange>& range) {
  if (!range) return x;
  return torch::sigmoid(x) * (range->hi - range->lo) + range->lo;
}

std::optional<YRange> read_y_range(ConfigReader& model) {
  const auto range = model.optional_range("y_range");
  if (!range) return std::nullopt;
  return YRange{range->first, range->second};
}

int64_t embedding_size_rule(int64_t n_categories) {
  const double size = std::round(1.6 * std::pow(static_cast<double>(n_categories), 0.56));
  return std::min<int64_t>(600, static_cast<int64_t>(size));
}

}  // namespace collab
