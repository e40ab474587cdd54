// FeatureBiases: the Biases baseline plus what an item's content features say about it,
//   rating = b + user_bias[u] + item_bias[i] + w . features[i]
// optionally squashed into y_range. The features (data/item_features.h: genres, release decade)
// are a registered buffer, saved in checkpoints and exports; w (Linear(F, 1), no
// bias) is learned from every item's ratings, so a rarely-rated item's bias starts from what its
// genres and decade earn. `item_bias` (the free per-item term) is on by default. It has no
// factors: it shows what a content term adds to the biases.
#pragma once

#include "collab/common/config_reader.h"
#include "collab/models/collab_model.h"

namespace collab {

struct FeatureBiasesOptions {
  ModelShape shape;  // item_features required when training
  bool item_bias = true;
  std::optional<YRange> y_range;
};

class FeatureBiasesImpl : public CollabModelImpl {
 public:
  explicit FeatureBiasesImpl(const FeatureBiasesOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  void script_into(torch::jit::Module& m) const override;
  std::string arch() const override { return "FeatureBiases"; }
  std::optional<YRange> y_range() const override { return options_.y_range; }
  bool uses_item_features() const override { return true; }

  // The item part of a rating [m] of `items` (int64 [m]): item_bias (when on) + w . features.
  torch::Tensor item_biases(const torch::Tensor& items) const;

  // Views (collab_model.h): as Biases', the user vector is the user bias alone and there are no
  // item factors; the item bias is item_biases() of every item.
  RowTables row_tables() const override { return {"user_bias.weight", "item_features"}; }
  torch::Tensor user_vectors() const override { return user_bias->weight.detach(); }
  torch::Tensor item_factor_table() const override { no_view("item factors (only biases)"); }
  std::optional<torch::Tensor> learned_item_bias() const override;
  std::optional<LinearUserModel> linear_user_model() const override;
  std::optional<torch::Tensor> bias_ratings(const torch::Tensor& user_vector) const override;

  // A learned scalar starting at 0, as Biases' global term.
  torch::Tensor global_bias;
  torch::Tensor item_features;  // buffer [n_items, F] (F: the data's feature columns)
  torch::nn::Embedding user_bias{nullptr};
  torch::nn::Embedding item_bias{nullptr};  // null when switched off
  torch::nn::Linear feature_bias{nullptr};  // F -> 1, no bias

 private:
  FeatureBiasesOptions options_;
};
TORCH_MODULE(FeatureBiases);

// Registry entry: reads `model.item_bias` (boolean) and `model.y_range`.
CollabModel make_feature_biases(ConfigReader& model, const ModelShape& shape);

}  // namespace collab
