#include "collab/models/dot_product_bias.h"

#include "collab/models/layers.h"
#include "collab/models/size_limits.h"

namespace collab {

DotProductBiasImpl::DotProductBiasImpl(const DotProductBiasOptions& options) : options_(options) {
  const ModelShape& s = options.shape;
  user_factors = register_module("user_factors", make_embedding(s.n_users, options.n_factors));
  item_factors = register_module("item_factors", make_embedding(s.n_items, options.n_factors));
  user_bias = register_module("user_bias", make_embedding(s.n_users, 1));
  item_bias = register_module("item_bias", make_embedding(s.n_items, 1));
}

torch::Tensor DotProductBiasImpl::forward(torch::Tensor x) {
  const torch::Tensor u = x.select(/*dim=*/1, /*index=*/0);
  const torch::Tensor i = x.select(/*dim=*/1, /*index=*/1);
  torch::Tensor r = (user_factors->forward(u) * item_factors->forward(i)).sum(/*dim=*/1);
  r = r + user_bias->forward(u).squeeze(1) + item_bias->forward(i).squeeze(1);
  return sigmoid_range(r, options_.y_range);
}

// forward() above, scripted op for op.
void DotProductBiasImpl::script_into(torch::jit::Module& m) const {
  script_tensors(*this, m);
  m.define(R"JIT(
def forward(self, x: Tensor) -> Tensor:
    u = x.select(1, 0)
    i = x.select(1, 1)
    r = (torch.embedding(self.user_factors_weight, u) *
         torch.embedding(self.item_factors_weight, i)).sum(1)
    r = (r + torch.embedding(self.user_bias_weight, u).squeeze(1) +
         torch.embedding(self.item_bias_weight, i).squeeze(1))
    return self.sigmoid_range(r)
)JIT");
}

torch::Tensor DotProductBiasImpl::user_vectors() const {
  return torch::cat({user_factors->weight, user_bias->weight}, 1).detach();
}

std::optional<LinearUserModel> DotProductBiasImpl::linear_user_model() const {
  return factors_and_bias_model(item_factors->weight, item_bias->weight);
}

torch::Tensor DotProductBiasImpl::item_vectors() const {
  return torch::cat({item_factors->weight, item_bias->weight}, 1).detach();
}

std::optional<LinearUserModel> DotProductBiasImpl::linear_item_model() const {
  return factors_and_bias_model(user_factors->weight, user_bias->weight);
}

std::optional<torch::Tensor> DotProductBiasImpl::bias_ratings(
    const torch::Tensor& user_vector) const {
  return item_bias->weight.detach().squeeze(1) + user_vector[-1];
}

CollabModel make_dot_product_bias(ConfigReader& model, const ModelShape& shape) {
  DotProductBiasOptions options;
  options.shape = shape;
  options.n_factors =
      model.integer("n_factors", options.n_factors, /*min=*/1, /*max=*/kMaxModelWidth);
  options.y_range = read_y_range(model);
  return DotProductBias(options).ptr();
}

}  // namespace collab
