// DotProduct (fastai ch. 8): rating = user_factors[u] . item_factors[i], optionally squashed
// into y_range by sigmoid_range.
#pragma once

#include "collab/common/config_reader.h"
#include "collab/models/collab_model.h"

namespace collab {

struct DotProductOptions {
  ModelShape shape;
  int64_t n_factors = 50;
  std::optional<YRange> y_range;  // none: the raw dot product
};

class DotProductImpl : public CollabModelImpl {
 public:
  explicit DotProductImpl(const DotProductOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  void script_into(torch::jit::Module& m) const override;
  std::string arch() const override { return "DotProduct"; }
  std::optional<YRange> y_range() const override { return options_.y_range; }
  std::optional<DotTables> dot_tables() override { return DotTables{user_factors, item_factors}; }

  // Views (collab_model.h): the user vector is the user's factors; no item bias.
  RowTables row_tables() const override { return {"user_factors.weight", "item_factors.weight"}; }
  torch::Tensor user_vectors() const override { return user_factors->weight.detach(); }
  torch::Tensor item_factor_table() const override { return item_factors->weight.detach(); }
  std::optional<LinearUserModel> linear_user_model() const override;
  torch::Tensor item_vectors() const override { return item_factors->weight.detach(); }
  std::optional<LinearUserModel> linear_item_model() const override;

  torch::nn::Embedding user_factors{nullptr}, item_factors{nullptr};

 private:
  DotProductOptions options_;
};
TORCH_MODULE(DotProduct);

// Registry entry: reads `model.n_factors` and `model.y_range`.
CollabModel make_dot_product(ConfigReader& model, const ModelShape& shape);

}  // namespace collab
