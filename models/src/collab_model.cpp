// CollabModelImpl's default views: "none", or an error naming the architecture.
#include "collab/models/collab_model.h"

#include "collab/common/error.h"
#include "collab/models/layers.h"

namespace collab {

void CollabModelImpl::no_view(const std::string& what) const {
  throw Error("architecture \"" + arch() + "\" has no " + what);
}

torch::Tensor CollabModelImpl::user_vectors() const {
  no_view("user vectors");
}

torch::Tensor CollabModelImpl::item_factor_table() const {
  no_view("item factors");
}

torch::Tensor CollabModelImpl::item_vectors() const {
  no_view("item vectors");
}

torch::Tensor CollabModelImpl::score_users(const torch::Tensor& item_vector,
                                           const torch::Tensor& users) {
  const auto linear = linear_item_model();
  if (!linear) no_view("linear item model to score users for an item vector");
  const torch::Tensor r =
      rows_of(linear->design, users).matmul(item_vector) + rows_of(linear->offset, users);
  return sigmoid_range(r, y_range());
}

torch::Tensor CollabModelImpl::score_items(const torch::Tensor& user_vector,
                                           const torch::Tensor& items) {
  const auto linear = linear_user_model();
  if (!linear) no_view("linear user model to score items for a user vector");
  const torch::Tensor design = rows_of(linear->design, items);
  const torch::Tensor r = design.matmul(user_vector) + rows_of(linear->offset, items);
  return sigmoid_range(r, y_range());
}

LinearUserModel factors_and_bias_model(const torch::Tensor& item_factors,
                                       const torch::Tensor& item_bias) {
  const torch::Tensor factors = item_factors.detach();
  // The user bias is the last coordinate of the user vector, so its design column is ones.
  return LinearUserModel{
      torch::cat({factors, torch::ones({factors.size(0), 1}, factors.options())}, 1),
      item_bias.detach().squeeze(1)};
}

torch::Tensor rows_of(const torch::Tensor& table, const torch::Tensor& items) {
  return items.defined() ? table.index_select(0, items) : table;
}

}  // namespace collab
