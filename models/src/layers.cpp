#include "collab/models/layers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "collab/common/error.h"
#include "collab/data/item_features.h"
#include "collab/data/ratings.h"

namespace collab {

torch::Tensor item_feature_table(const ModelShape& shape) {
  if (!shape.item_features.defined()) {
    const int64_t width = shape.n_item_features > 0 ? shape.n_item_features : kItemFeatures;
    return torch::zeros({shape.n_items, width});
  }
  const torch::Tensor& f = shape.item_features;
  if (f.dim() != 2 || f.size(0) != shape.n_items || f.size(1) < 1) {
    throw Error("item features: expected [" + std::to_string(shape.n_items) +
                ", F] (one row per item: its genres and release decades), got " +
                c10::str(f.sizes()));
  }
  return f.detach().to(torch::kCPU, torch::kFloat).clone();
}

torch::nn::Embedding make_embedding(int64_t n, int64_t dim) {
  torch::nn::Embedding embedding(n, dim);
  torch::NoGradGuard no_grad;
  embedding->weight.normal_(0.0, 1.0).fmod_(2.0).mul_(0.01);
  return embedding;
}

torch::nn::Linear make_feature_linear(int64_t in, int64_t out) {
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out).bias(false));
  torch::NoGradGuard no_grad;
  linear->weight.normal_(0.0, 1.0).fmod_(2.0).mul_(0.01);
  return linear;
}

torch::Tensor sigmoid_range(const torch::Tensor& x, const std::optional<YRange>& range) {
  if (!range) return x;
  return torch::sigmoid(x) * (range->hi - range->lo) + range->lo;
}

// The scripted twin of sigmoid_range: the same ops in the same order, with lo and hi kept as
// doubles (TorchScript's float) as the eager code keeps them, so both round alike.
void script_sigmoid_range(torch::jit::Module& m, const std::optional<YRange>& range) {
  c10::List<double> bounds;
  if (range) {
    bounds.push_back(range->lo);
    bounds.push_back(range->hi);
  }
  m.register_attribute("y_range", c10::ListType::ofFloats(), bounds);
  m.define(R"JIT(
def sigmoid_range(self, x: Tensor) -> Tensor:
    if len(self.y_range) == 0:
        return x
    return torch.sigmoid(x) * (self.y_range[1] - self.y_range[0]) + self.y_range[0]
)JIT");
}

std::string script_name(const std::string& eager_name) {
  std::string name = eager_name;
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

void script_tensors(const torch::nn::Module& eager, torch::jit::Module& m) {
  // Undefined tensors (a Linear without bias) are skipped: the scripted forward omits them too.
  for (const auto& p : eager.named_parameters()) {
    if (!p.value().defined()) continue;
    m.register_parameter(script_name(p.key()), p.value().detach().to(torch::kCPU).clone(),
                         /*is_buffer=*/false);
  }
  for (const auto& b : eager.named_buffers()) {
    if (!b.value().defined()) continue;
    m.register_buffer(script_name(b.key()), b.value().detach().to(torch::kCPU).clone());
  }
}

std::string script_float(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);  // 17 digits round-trip any double
  std::string literal = text;
  // A bare "1" would be an int literal; TorchScript wants a float where a float is declared.
  // (Only finite values occur: inf and nan have no TorchScript literal.)
  if (literal.find_first_of(".e") == std::string::npos) literal += ".0";
  return literal;
}

std::optional<YRange> read_y_range(ConfigReader& model) {
  const auto range = model.optional_range("y_range");
  if (!range) return std::nullopt;
  if (std::fabs(range->first) > kMaxRatingMagnitude ||
      std::fabs(range->second) > kMaxRatingMagnitude) {
    model.fail("y_range",
               "each bound must be within +-1e6 (ratings are; a wider range overflows "
               "float arithmetic in training)");
  }
  return YRange{range->first, range->second};
}

int64_t embedding_size_rule(int64_t n_categories) {
  const double size = std::round(1.6 * std::pow(static_cast<double>(n_categories), 0.56));
  return std::min<int64_t>(600, static_cast<int64_t>(size));
}

}  // namespace collab
