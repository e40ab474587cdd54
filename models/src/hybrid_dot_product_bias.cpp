#include "collab/models/hybrid_dot_product_bias.h"

#include "collab/data/item_features.h"
#include "collab/models/layers.h"

namespace collab {

namespace {

// A bias-free Linear initialised like the embeddings (fastai's trunc_normal_, std 0.01) rather
// than torch's kaiming bound 1/sqrt(28) ~ 0.19: the projection then starts at the scale of the
// free item factors it is added to, and the hybrid starts where DotProductBias does.
torch::nn::Linear make_projection(int64_t in, int64_t out) {
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out).bias(false));
  torch::NoGradGuard no_grad;
  linear->weight.normal_(0.0, 1.0).fmod_(2.0).mul_(0.01);
  return linear;
}

}  // namespace

HybridDotProductBiasImpl::HybridDotProductBiasImpl(const HybridDotProductBiasOptions& options)
    : options_(options) {
  const ModelShape& s = options.shape;
  item_features = register_buffer("item_features", item_feature_table(s));
  user_factors = register_module("user_factors", make_embedding(s.n_users, options.n_factors));
  item_factors = register_module("item_factors", make_embedding(s.n_items, options.n_factors));
  user_bias = register_module("user_bias", make_embedding(s.n_users, 1));
  if (options.item_bias) item_bias = register_module("item_bias", make_embedding(s.n_items, 1));
  feature_projection =
      register_module("feature_projection", make_projection(kItemFeatures, options.n_factors));
  if (options.feature_bias) {
    feature_bias = register_module("feature_bias", make_projection(kItemFeatures, 1));
  }
}

// The functional forms of the Embedding and Linear forwards, which are not const.
torch::Tensor HybridDotProductBiasImpl::item_vectors(const torch::Tensor& items) const {
  return item_factors->weight.index_select(0, items) +
         torch::linear(item_features.index_select(0, items), feature_projection->weight);
}

torch::Tensor HybridDotProductBiasImpl::item_biases(const torch::Tensor& items) const {
  torch::Tensor b = torch::zeros({items.size(0)}, item_features.options());
  if (item_bias) b = b + item_bias->weight.index_select(0, items).squeeze(1);
  if (feature_bias) {
    b = b + torch::linear(item_features.index_select(0, items), feature_bias->weight).squeeze(1);
  }
  return b;
}

torch::Tensor HybridDotProductBiasImpl::forward(torch::Tensor x) {
  const torch::Tensor u = x.select(/*dim=*/1, /*index=*/0);
  const torch::Tensor i = x.select(/*dim=*/1, /*index=*/1);
  torch::Tensor r = (user_factors->forward(u) * item_vectors(i)).sum(/*dim=*/1);
  r = r + user_bias->forward(u).squeeze(1) + item_biases(i);
  return sigmoid_range(r, options_.y_range);
}

// forward() above, scripted op for op.
void HybridDotProductBiasImpl::script_into(torch::jit::Module& m) const {
  script_tensors(*this, m);
  std::string code = R"JIT(
def forward(self, x: Tensor) -> Tensor:
    u = x.select(1, 0)
    i = x.select(1, 1)
    f = self.item_features.index_select(0, i)
    v = (torch.embedding(self.item_factors_weight, i) +
         torch.linear(f, self.feature_projection_weight))
    r = (torch.embedding(self.user_factors_weight, u) * v).sum(1)
    r = r + torch.embedding(self.user_bias_weight, u).squeeze(1)
)JIT";
  if (item_bias) code += "    r = r + torch.embedding(self.item_bias_weight, i).squeeze(1)\n";
  if (feature_bias) code += "    r = r + torch.linear(f, self.feature_bias_weight).squeeze(1)\n";
  code += "    return self.sigmoid_range(r)\n";
  m.define(code);
}

CollabModel make_hybrid_dot_product_bias(ConfigReader& model, const ModelShape& shape) {
  HybridDotProductBiasOptions options;
  options.shape = shape;
  options.n_factors = model.integer("n_factors", options.n_factors, /*min=*/1);
  options.item_bias = model.boolean("item_bias", options.item_bias);
  options.feature_bias = model.boolean("feature_bias", options.feature_bias);
  options.y_range = read_y_range(model);
  return HybridDotProductBias(options).ptr();
}

}  // namespace collab
