#include "collab/models/hybrid_dot_product_bias.h"

#include "collab/data/item_features.h"
#include "collab/models/layers.h"

namespace collab {

namespace {

torch::Tensor all_items(const torch::Tensor& item_features) {
  return torch::arange(item_features.size(0), item_features.options().dtype(torch::kLong));
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
  // Initialised like the embeddings (layers.h: make_feature_linear), so the projection starts at
  // the scale of the free item factors it is added to, and the hybrid starts where DotProductBias
  // does.
  feature_projection = register_module(
      "feature_projection", make_feature_linear(item_features.size(1), options.n_factors));
  if (options.feature_bias) {
    feature_bias = register_module("feature_bias", make_feature_linear(item_features.size(1), 1));
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

torch::Tensor HybridDotProductBiasImpl::user_vectors() const {
  return torch::cat({user_factors->weight, user_bias->weight}, 1).detach();
}

torch::Tensor HybridDotProductBiasImpl::item_factor_table() const {
  torch::NoGradGuard no_grad;
  return item_vectors(all_items(item_features));
}

std::optional<torch::Tensor> HybridDotProductBiasImpl::learned_item_bias() const {
  if (!item_bias && !feature_bias) return std::nullopt;
  torch::NoGradGuard no_grad;
  return item_biases(all_items(item_features));
}

std::optional<LinearUserModel> HybridDotProductBiasImpl::linear_user_model() const {
  const torch::Tensor vectors = item_factor_table();
  torch::NoGradGuard no_grad;
  return LinearUserModel{
      torch::cat({vectors, torch::ones({vectors.size(0), 1}, vectors.options())}, 1),
      item_biases(all_items(item_features))};
}

std::optional<torch::Tensor> HybridDotProductBiasImpl::bias_ratings(
    const torch::Tensor& user_vector) const {
  if (!item_bias && !feature_bias) return std::nullopt;
  torch::NoGradGuard no_grad;
  return item_biases(all_items(item_features)) + user_vector[-1];
}

std::optional<FeatureItem> HybridDotProductBiasImpl::item_from_features(
    const torch::Tensor& features) const {
  torch::NoGradGuard no_grad;
  const torch::Tensor f = features.to(torch::kCPU, torch::kFloat).reshape({1, -1});
  // The free embedding and the item bias of an item nobody rated are zero: what is left is the
  // projection of its features and their linear bias.
  const torch::Tensor factors = torch::linear(f, feature_projection->weight).squeeze(0);
  const double offset = feature_bias ? torch::linear(f, feature_bias->weight).item<double>() : 0.0;
  return FeatureItem{factors, torch::cat({factors, torch::ones({1}, factors.options())}), offset};
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
