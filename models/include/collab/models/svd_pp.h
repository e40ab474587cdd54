// SVDpp (Koren's SVD++, 2008): DotProductBias whose user vector also holds what the user chose to
// rate, implicit feedback taken from the training ratings alone:
//   rating = (p_u + |N(u)|^-1/2 * sum_{j in N(u)} y_j) . q_i + user_bias[u] + item_bias[i]
// optionally squashed into y_range, where N(u) is the set of items u rated in the training split.
// N(u) is held as two int64 buffers in CSR form (`rated_offsets` [n_users + 1], `rated_items`
// [nnz]), saved in checkpoints and exports: their size comes from the data, not the config, so a
// model rebuilt for a saved state takes the saved size (data_sized_buffer()).
#pragma once

#include "collab/common/config_reader.h"
#include "collab/models/collab_model.h"

namespace collab {

struct SVDppOptions {
  ModelShape shape;  // train required when training
  int64_t n_factors = 50;
  std::optional<YRange> y_range;
};

class SVDppImpl : public CollabModelImpl {
 public:
  explicit SVDppImpl(const SVDppOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  void script_into(torch::jit::Module& m) const override;
  std::string arch() const override { return "SVDpp"; }
  std::optional<YRange> y_range() const override { return options_.y_range; }
  bool data_sized_buffer(const std::string& name) const override {
    return name == "rated_offsets" || name == "rated_items";
  }

  // |N(u)|^-1/2 * sum of y_j over the items each of `users` (int64 [B]) rated: [B, n_factors].
  torch::Tensor implicit_term(const torch::Tensor& users) const;

  // Views (collab_model.h): as DotProductBias's, with the user's factors p_u plus their implicit
  // term as the user vector, the bias its last coordinate. A user folded in from new ratings is
  // one such vector, learned whole.
  RowTables row_tables() const override { return {"user_factors.weight", "item_factors.weight"}; }
  torch::Tensor user_vectors() const override;
  torch::Tensor item_factor_table() const override { return item_factors->weight.detach(); }
  std::optional<torch::Tensor> learned_item_bias() const override {
    return item_bias->weight.detach().squeeze(1);
  }
  std::optional<LinearUserModel> linear_user_model() const override;
  std::optional<torch::Tensor> bias_ratings(const torch::Tensor& user_vector) const override;

  torch::nn::Embedding user_factors{nullptr}, item_factors{nullptr};
  torch::nn::Embedding implicit_factors{nullptr};  // y_j, one row per item
  torch::nn::Embedding user_bias{nullptr}, item_bias{nullptr};
  torch::Tensor rated_offsets, rated_items;  // N(u) as CSR buffers

 private:
  SVDppOptions options_;
};
TORCH_MODULE(SVDpp);

// Registry entry: reads `model.n_factors` and `model.y_range`.
CollabModel make_svd_pp(ConfigReader& model, const ModelShape& shape);

}  // namespace collab
