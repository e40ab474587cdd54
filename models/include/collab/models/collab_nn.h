// CollabNN (fastai ch. 8 / EmbeddingNN): user and item embeddings, sized by fastai's rule unless
// given, concatenated into an MLP. Each hidden layer is Linear -> ReLU, or with batchnorm
// Linear(no bias) -> ReLU -> BatchNorm1d as fastai's LinBnDrop(lin_first=True), then dropout;
// a final Linear(.., 1) and sigmoid_range.
#pragma once

#include <vector>

#include "collab/common/config_reader.h"
#include "collab/models/collab_model.h"

namespace collab {

struct CollabNNOptions {
  ModelShape shape;
  int64_t user_embedding = 0;           // 0: embedding_size_rule(n_users)
  int64_t item_embedding = 0;           // 0: embedding_size_rule(n_items)
  std::vector<int64_t> layers = {100};  // hidden sizes
  bool batchnorm = false;
  std::vector<double> dropout;  // per hidden layer; empty: none
  double embedding_dropout = 0.0;
  std::optional<YRange> y_range;
};

class CollabNNImpl : public CollabModelImpl {
 public:
  explicit CollabNNImpl(const CollabNNOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  void script_into(torch::jit::Module& m) const override;
  std::string arch() const override { return "CollabNN"; }
  std::optional<YRange> y_range() const override { return options_.y_range; }
  std::optional<MlpTables> mlp_tables() override {
    return MlpTables{user_factors, item_factors, embedding_dropout->options.p(), layers};
  }

  // Views (collab_model.h): the user vector is the user's embedding; no item bias, and no linear
  // form, so fold-in takes gradient steps through score_items().
  RowTables row_tables() const override { return {"user_factors.weight", "item_factors.weight"}; }
  torch::Tensor user_vectors() const override { return user_factors->weight.detach(); }
  torch::Tensor item_factor_table() const override { return item_factors->weight.detach(); }
  torch::Tensor score_items(const torch::Tensor& user_vector,
                            const torch::Tensor& items = {}) override;
  // The item half of the first layer, [n_items, hidden] (with its bias); a block adds the users'
  // half to it and runs the remaining layers.
  std::optional<torch::Tensor> block_items() const override;
  torch::Tensor score_user_block(const torch::Tensor& users,
                                 const torch::Tensor& block_items) override;

  torch::nn::Embedding user_factors{nullptr}, item_factors{nullptr};
  torch::nn::Dropout embedding_dropout{nullptr};
  torch::nn::Sequential layers{nullptr};

 private:
  CollabNNOptions options_;
};
TORCH_MODULE(CollabNN);

// Registry entry: reads `user_embedding`, `item_embedding`, `layers`, `batchnorm`, `dropout`,
// `embedding_dropout` and `y_range`.
CollabModel make_collab_nn(ConfigReader& model, const ModelShape& shape);

}  // namespace collab
