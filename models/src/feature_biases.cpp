#include "collab/models/feature_biases.h"

#include "collab/data/item_features.h"
#include "collab/models/layers.h"

namespace collab {

FeatureBiasesImpl::FeatureBiasesImpl(const FeatureBiasesOptions& options) : options_(options) {
  const ModelShape& s = options.shape;
  global_bias = register_parameter("global_bias", torch::zeros({1}));
  item_features = register_buffer("item_features", item_feature_table(s));
  user_bias = register_module("user_bias", make_embedding(s.n_users, 1));
  if (options.item_bias) item_bias = register_module("item_bias", make_embedding(s.n_items, 1));
  feature_bias = register_module("feature_bias", make_feature_linear(item_features.size(1), 1));
}

// The functional forms of the Embedding and Linear forwards, which are not const.
torch::Tensor FeatureBiasesImpl::item_biases(const torch::Tensor& items) const {
  torch::Tensor b =
      torch::linear(item_features.index_select(0, items), feature_bias->weight).squeeze(1);
  if (item_bias) b = item_bias->weight.index_select(0, items).squeeze(1) + b;
  return b;
}

torch::Tensor FeatureBiasesImpl::forward(torch::Tensor x) {
  const torch::Tensor u = user_bias->forward(x.select(/*dim=*/1, /*index=*/0)).squeeze(1);
  const torch::Tensor i = item_biases(x.select(/*dim=*/1, /*index=*/1));
  return sigmoid_range(global_bias + u + i, options_.y_range);
}

// forward() above, scripted op for op.
void FeatureBiasesImpl::script_into(torch::jit::Module& m) const {
  script_tensors(*this, m);
  std::string code = R"JIT(
def forward(self, x: Tensor) -> Tensor:
    items = x.select(1, 1)
    u = torch.embedding(self.user_bias_weight, x.select(1, 0)).squeeze(1)
    i = torch.linear(self.item_features.index_select(0, items),
                     self.feature_bias_weight).squeeze(1)
)JIT";
  if (item_bias) code += "    i = self.item_bias_weight.index_select(0, items).squeeze(1) + i\n";
  code += "    return self.sigmoid_range(self.global_bias + u + i)\n";
  m.define(code);
}

std::optional<torch::Tensor> FeatureBiasesImpl::learned_item_bias() const {
  torch::NoGradGuard no_grad;
  return item_biases(
      torch::arange(item_features.size(0), item_features.options().dtype(torch::kLong)));
}

std::optional<LinearUserModel> FeatureBiasesImpl::linear_user_model() const {
  // The user vector is the user bias alone; the global term joins the item part.
  const torch::Tensor bias = *learned_item_bias();
  return LinearUserModel{torch::ones({bias.size(0), 1}, bias.options()),
                         bias + global_bias.detach().reshape({})};
}

std::optional<torch::Tensor> FeatureBiasesImpl::bias_ratings(
    const torch::Tensor& user_vector) const {
  return linear_user_model()->offset + user_vector[-1];
}

CollabModel make_feature_biases(ConfigReader& model, const ModelShape& shape) {
  FeatureBiasesOptions options;
  options.shape = shape;
  options.item_bias = model.boolean("item_bias", options.item_bias);
  options.y_range = read_y_range(model);
  return FeatureBiases(options).ptr();
}

}  // namespace collab
