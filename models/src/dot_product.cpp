#include "collab/models/dot_product.h"

#include "collab/models/layers.h"
#include "collab/models/size_limits.h"

namespace collab {

DotProductImpl::DotProductImpl(const DotProductOptions& options) : options_(options) {
  user_factors =
      register_module("user_factors", make_embedding(options.shape.n_users, options.n_factors));
  item_factors =
      register_module("item_factors", make_embedding(options.shape.n_items, options.n_factors));
}

torch::Tensor DotProductImpl::forward(torch::Tensor x) {
  const torch::Tensor users = user_factors->forward(x.select(/*dim=*/1, /*index=*/0));
  const torch::Tensor items = item_factors->forward(x.select(/*dim=*/1, /*index=*/1));
  return sigmoid_range((users * items).sum(/*dim=*/1), options_.y_range);
}

// forward() above, scripted: torch.embedding is what nn::Embedding's forward calls.
void DotProductImpl::script_into(torch::jit::Module& m) const {
  script_tensors(*this, m);
  m.define(R"JIT(
def forward(self, x: Tensor) -> Tensor:
    users = torch.embedding(self.user_factors_weight, x.select(1, 0))
    items = torch.embedding(self.item_factors_weight, x.select(1, 1))
    return self.sigmoid_range((users * items).sum(1))
)JIT");
}

std::optional<LinearUserModel> DotProductImpl::linear_user_model() const {
  const torch::Tensor factors = item_factors->weight.detach();
  return LinearUserModel{factors, torch::zeros({factors.size(0)}, factors.options())};
}

std::optional<LinearUserModel> DotProductImpl::linear_item_model() const {
  const torch::Tensor factors = user_factors->weight.detach();
  return LinearUserModel{factors, torch::zeros({factors.size(0)}, factors.options())};
}

CollabModel make_dot_product(ConfigReader& model, const ModelShape& shape) {
  DotProductOptions options;
  options.shape = shape;
  options.n_factors =
      model.integer("n_factors", options.n_factors, /*min=*/1, /*max=*/kMaxModelWidth);
  options.y_range = read_y_range(model);
  return DotProduct(options).ptr();
}

}  // namespace collab
