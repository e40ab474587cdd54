// DotProductBias (fastai's EmbeddingDotBias): rating = u . i + user_bias[u] + item_bias[i],
// optionally squashed into y_range. The biases are 1-wide embeddings, decayed like the factors.
#pragma once

#include "collab/common/config_reader.h"
#include "collab/models/collab_model.h"

namespace collab {

struct DotProductBiasOptions {
  ModelShape shape;
  int64_t n_factors = 50;
  std::optional<YRange> y_range;
};

class DotProductBiasImpl : public CollabModelImpl {
 public:
  explicit DotProductBiasImpl(const DotProductBiasOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  void script_into(torch::jit::Module& m) const override;
  std::string arch() const override { return "DotProductBias"; }
  std::optional<YRange> y_range() const override { return options_.y_range; }
  std::optional<DotTables> dot_tables() override {
    return DotTables{user_factors, item_factors, user_bias, item_bias};
  }

  // Views (collab_model.h): the user vector is the user's factors with their bias as a last
  // coordinate, and the item vector likewise.
  RowTables row_tables() const override { return {"user_factors.weight", "item_factors.weight"}; }
  torch::Tensor user_vectors() const override;
  torch::Tensor item_factor_table() const override { return item_factors->weight.detach(); }
  std::optional<torch::Tensor> learned_item_bias() const override {
    return item_bias->weight.detach().squeeze(1);
  }
  std::optional<LinearUserModel> linear_user_model() const override;
  // The item side mirrors it: the item's factors with its bias as a last coordinate.
  torch::Tensor item_vectors() const override;
  std::optional<LinearUserModel> linear_item_model() const override;
  std::optional<torch::Tensor> bias_ratings(const torch::Tensor& user_vector) const override;

  torch::nn::Embedding user_factors{nullptr}, item_factors{nullptr};
  torch::nn::Embedding user_bias{nullptr}, item_bias{nullptr};

 private:
  DotProductBiasOptions options_;
};
TORCH_MODULE(DotProductBias);

// Registry entry: reads `model.n_factors` and `model.y_range`.
CollabModel make_dot_product_bias(ConfigReader& model, const ModelShape& shape);

}  // namespace collab
