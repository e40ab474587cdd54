#include "collab/models/dot_product_bias.h"

#include "collab/models/layers.h"

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

CollabModel make_dot_product_bias(ConfigReader& model, const ModelShape& shape) {
  DotProductBiasOptions options;
  options.shape = shape;
  options.n_factors = model.integer("n_factors", options.n_factors, /*min=*/1);
  options.y_range = read_y_range(model);
  return DotProductBias(options).ptr();
}

}  // namespace collab
