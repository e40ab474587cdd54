#include "collab/models/content_based.h"

#include "collab/data/item_features.h"
#include "collab/models/layers.h"

namespace collab {

ContentBasedImpl::ContentBasedImpl(const ContentBasedOptions& options) : options_(options) {
  const ModelShape& s = options.shape;
  item_features = register_buffer("item_features", item_feature_table(s));
  user_profile = register_module("user_profile", make_embedding(s.n_users, item_features.size(1)));
  if (options.user_bias) user_bias = register_module("user_bias", make_embedding(s.n_users, 1));
  if (options.item_bias) item_bias = register_module("item_bias", make_embedding(s.n_items, 1));
}

torch::Tensor ContentBasedImpl::forward(torch::Tensor x) {
  const torch::Tensor u = x.select(/*dim=*/1, /*index=*/0);
  const torch::Tensor i = x.select(/*dim=*/1, /*index=*/1);
  torch::Tensor r = (user_profile->forward(u) * item_features.index_select(0, i)).sum(/*dim=*/1);
  if (user_bias) r = r + user_bias->forward(u).squeeze(1);
  if (item_bias) r = r + item_bias->forward(i).squeeze(1);
  return sigmoid_range(r, options_.y_range);
}

// forward() above, scripted op for op.
void ContentBasedImpl::script_into(torch::jit::Module& m) const {
  script_tensors(*this, m);
  std::string code = R"JIT(
def forward(self, x: Tensor) -> Tensor:
    u = x.select(1, 0)
    i = x.select(1, 1)
    r = (torch.embedding(self.user_profile_weight, u) *
         self.item_features.index_select(0, i)).sum(1)
)JIT";
  if (user_bias) code += "    r = r + torch.embedding(self.user_bias_weight, u).squeeze(1)\n";
  if (item_bias) code += "    r = r + torch.embedding(self.item_bias_weight, i).squeeze(1)\n";
  code += "    return self.sigmoid_range(r)\n";
  m.define(code);
}

torch::Tensor ContentBasedImpl::user_vectors() const {
  if (!user_bias) return user_profile->weight.detach();
  return torch::cat({user_profile->weight, user_bias->weight}, 1).detach();
}

std::optional<torch::Tensor> ContentBasedImpl::learned_item_bias() const {
  if (!item_bias) return std::nullopt;
  return item_bias->weight.detach().squeeze(1);
}

std::optional<LinearUserModel> ContentBasedImpl::linear_user_model() const {
  const torch::Tensor features = item_features.detach();
  const int64_t n = features.size(0);
  return LinearUserModel{
      user_bias ? torch::cat({features, torch::ones({n, 1}, features.options())}, 1) : features,
      item_bias ? item_bias->weight.detach().squeeze(1) : torch::zeros({n}, features.options())};
}

std::optional<torch::Tensor> ContentBasedImpl::bias_ratings(
    const torch::Tensor& user_vector) const {
  if (!item_bias) return std::nullopt;
  const torch::Tensor bias = item_bias->weight.detach().squeeze(1);
  // Without a user bias every coordinate of the user vector is a profile weight.
  return user_bias ? bias + user_vector[-1] : bias;
}

std::optional<FeatureItem> ContentBasedImpl::item_from_features(
    const torch::Tensor& features) const {
  torch::NoGradGuard no_grad;
  const torch::Tensor factors = features.to(torch::kCPU, torch::kFloat).reshape({1, -1}).squeeze(0);
  const torch::Tensor design =
      user_bias ? torch::cat({factors, torch::ones({1}, factors.options())}) : factors;
  return FeatureItem{factors, design, 0.0};
}

CollabModel make_content_based(ConfigReader& model, const ModelShape& shape) {
  ContentBasedOptions options;
  options.shape = shape;
  options.user_bias = model.boolean("user_bias", options.user_bias);
  options.item_bias = model.boolean("item_bias", options.item_bias);
  options.y_range = read_y_range(model);
  return ContentBased(options).ptr();
}

}  // namespace collab
