// HybridDotProductBias: DotProductBias whose item vector is a free embedding plus a learned
// projection of the item's content features (data/item_features.h: genres, release decade),
//   item_vec[i] = item_factors[i] + W features[i]          (W: Linear(F, n_factors),
//                                                           no bias)
//   rating = u . item_vec[i] + user_bias[u] + item_bias[i] + w . features[i]
// optionally squashed into y_range. Items with few or no ratings, whose free embedding barely
// moves from its near-zero start, still get the vector and bias their genres and decade earn
// from every other item's ratings; an item unseen in training is scored through W alone. The
// features are a registered buffer, saved in checkpoints and exports. `feature_bias` (the
// w . features term) is on by default; the free `item_bias` is off by default: on MovieLens
// 100k's u1..u5 it made the rarely-rated items' predictions worse (RMSE 1.0236 with it, 1.0149
// without, on test ratings of items with <= 5 training ratings) and all predictions no better
// (0.9066 vs 0.9060): a few ratings fit a free bias to noise (bench/RESULTS.md).
#pragma once

#include "collab/common/config_reader.h"
#include "collab/models/collab_model.h"

namespace collab {

struct HybridDotProductBiasOptions {
  ModelShape shape;  // item_features required when training
  int64_t n_factors = 50;
  bool item_bias = false;
  bool feature_bias = true;
  std::optional<YRange> y_range;
};

class HybridDotProductBiasImpl : public CollabModelImpl {
 public:
  explicit HybridDotProductBiasImpl(const HybridDotProductBiasOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  void script_into(torch::jit::Module& m) const override;
  std::string arch() const override { return "HybridDotProductBias"; }
  std::optional<YRange> y_range() const override { return options_.y_range; }
  bool uses_item_features() const override { return true; }

  // The full item vectors [m, n_factors] (free embedding + projection) of `items` (int64 [m]);
  // differentiable. (The model's view of every item, item_vectors(), stays visible beside it.)
  using CollabModelImpl::item_vectors;
  torch::Tensor item_vectors(const torch::Tensor& items) const;
  // The full item biases [m] (item_bias + feature_bias) of `items`; zeros when both are off.
  torch::Tensor item_biases(const torch::Tensor& items) const;

  // Views (collab_model.h): the user vector is the user's factors with their bias as a last
  // coordinate; the item factors and bias are the full ones above (the item bias is nullopt when
  // item_bias and feature_bias are both off); a new item is the projection of its features.
  RowTables row_tables() const override { return {"user_factors.weight", "item_factors.weight"}; }
  torch::Tensor user_vectors() const override;
  torch::Tensor item_factor_table() const override;
  std::optional<torch::Tensor> learned_item_bias() const override;
  std::optional<LinearUserModel> linear_user_model() const override;
  std::optional<torch::Tensor> bias_ratings(const torch::Tensor& user_vector) const override;
  std::optional<FeatureItem> item_from_features(const torch::Tensor& features) const override;

  torch::Tensor item_features;  // buffer [n_items, F] (F: the data's feature columns)
  torch::nn::Embedding user_factors{nullptr}, item_factors{nullptr};
  torch::nn::Embedding user_bias{nullptr};
  torch::nn::Embedding item_bias{nullptr};        // null when switched off
  torch::nn::Linear feature_projection{nullptr};  // F -> n_factors, no bias
  torch::nn::Linear feature_bias{nullptr};        // F -> 1, no bias; null when off

 private:
  HybridDotProductBiasOptions options_;
};
TORCH_MODULE(HybridDotProductBias);

// Registry entry: reads `model.n_factors`, `model.item_bias`, `model.feature_bias` and
// `model.y_range`.
CollabModel make_hybrid_dot_product_bias(ConfigReader& model, const ModelShape& shape);

}  // namespace collab
