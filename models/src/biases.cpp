#include "collab/models/biases.h"

#include "collab/models/layers.h"

namespace collab {

BiasesImpl::BiasesImpl(const BiasesOptions& options) : options_(options) {
  global_bias = register_parameter("global_bias", torch::zeros({1}));
  user_bias = register_module("user_bias", make_embedding(options.shape.n_users, 1));
  item_bias = register_module("item_bias", make_embedding(options.shape.n_items, 1));
}

torch::Tensor BiasesImpl::forward(torch::Tensor x) {
  const torch::Tensor u = user_bias->forward(x.select(/*dim=*/1, /*index=*/0)).squeeze(1);
  const torch::Tensor i = item_bias->forward(x.select(/*dim=*/1, /*index=*/1)).squeeze(1);
  return sigmoid_range(global_bias + u + i, options_.y_range);
}

// forward() above, scripted op for op.
void BiasesImpl::script_into(torch::jit::Module& m) const {
  script_tensors(*this, m);
  m.define(R"JIT(
def forward(self, x: Tensor) -> Tensor:
    u = torch.embedding(self.user_bias_weight, x.select(1, 0)).squeeze(1)
    i = torch.embedding(self.item_bias_weight, x.select(1, 1)).squeeze(1)
    return self.sigmoid_range(self.global_bias + u + i)
)JIT");
}

std::optional<LinearUserModel> BiasesImpl::linear_user_model() const {
  // The user vector is the user bias alone; the global term joins the item bias.
  const torch::Tensor bias = item_bias->weight.detach().squeeze(1);
  return LinearUserModel{torch::ones({bias.size(0), 1}, bias.options()),
                         bias + global_bias.detach().reshape({})};
}

std::optional<torch::Tensor> BiasesImpl::bias_ratings(const torch::Tensor& user_vector) const {
  return linear_user_model()->offset + user_vector[-1];
}

CollabModel make_biases(ConfigReader& model, const ModelShape& shape) {
  BiasesOptions options;
  options.shape = shape;
  options.y_range = read_y_range(model);
  return Biases(options).ptr();
}

}  // namespace collab
