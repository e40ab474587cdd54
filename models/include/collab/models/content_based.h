// ContentBased (the seed's content-based filtering): rating = profile[u] . features[i]
// (+ user_bias[u]) (+ item_bias[i]), optionally squashed into y_range. The items' features
// (data/item_features.h: 19 MovieLens genres and a one-hot release decade) are fixed, a
// registered buffer saved in checkpoints and exports; the user profile, one weight per feature,
// is learned. Defaults: user bias on (users rate on their own scales), item bias off, so the
// model stays purely content-based and an item unseen in training is scored by its features
// alone; with item_bias it becomes the "biases" baseline plus a content profile.
#pragma once

#include "collab/common/config_reader.h"
#include "collab/models/collab_model.h"

namespace collab {

struct ContentBasedOptions {
  ModelShape shape;  // item_features required when training
  bool user_bias = true;
  bool item_bias = false;
  std::optional<YRange> y_range;
};

class ContentBasedImpl : public CollabModelImpl {
 public:
  explicit ContentBasedImpl(const ContentBasedOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  void script_into(torch::jit::Module& m) const override;
  std::string arch() const override { return "ContentBased"; }
  std::optional<YRange> y_range() const override { return options_.y_range; }
  bool uses_item_features() const override { return true; }
  const ContentBasedOptions& options() const { return options_; }

  // Views (collab_model.h): the user vector is the profile, then the user bias when there is one;
  // the item factors are the features themselves, so a new item is its features.
  RowTables row_tables() const override { return {"user_profile.weight", "item_features"}; }
  torch::Tensor user_vectors() const override;
  torch::Tensor item_factor_table() const override { return item_features.detach(); }
  std::optional<torch::Tensor> learned_item_bias() const override;
  std::optional<LinearUserModel> linear_user_model() const override;
  std::optional<torch::Tensor> bias_ratings(const torch::Tensor& user_vector) const override;
  std::optional<FeatureItem> item_from_features(const torch::Tensor& features) const override;

  torch::Tensor item_features;  // buffer [n_items, F] (F: the data's feature columns)
  torch::nn::Embedding user_profile{nullptr};                   // [n_users, F]
  torch::nn::Embedding user_bias{nullptr}, item_bias{nullptr};  // null when switched off

 private:
  ContentBasedOptions options_;
};
TORCH_MODULE(ContentBased);

// Registry entry: reads `model.user_bias`, `model.item_bias` (booleans) and `model.y_range`.
CollabModel make_content_based(ConfigReader& model, const ModelShape& shape);

}  // namespace collab
