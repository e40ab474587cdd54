// Biases: the "global mean + biases" baseline, rating = b + user_bias[u] + item_bias[i],
// optionally squashed into y_range. No factors: it shows what the factors of the other
// architectures add over the part of a rating that is explained by who rates and what is rated.
#pragma once

#include "collab/common/config_reader.h"
#include "collab/models/collab_model.h"

namespace collab {

struct BiasesOptions {
  ModelShape shape;
  std::optional<YRange> y_range;
};

class BiasesImpl : public CollabModelImpl {
 public:
  explicit BiasesImpl(const BiasesOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  void script_into(torch::jit::Module& m) const override;
  std::string arch() const override { return "Biases"; }
  std::optional<YRange> y_range() const override { return options_.y_range; }

  // Views (collab_model.h): the user vector is the user bias alone; no item factors.
  RowTables row_tables() const override { return {"user_bias.weight", "item_bias.weight"}; }
  torch::Tensor user_vectors() const override { return user_bias->weight.detach(); }
  torch::Tensor item_factor_table() const override { no_view("item factors (only biases)"); }
  std::optional<torch::Tensor> learned_item_bias() const override {
    return item_bias->weight.detach().squeeze(1);
  }
  std::optional<LinearUserModel> linear_user_model() const override;
  std::optional<torch::Tensor> bias_ratings(const torch::Tensor& user_vector) const override;

  // The global term: a learned scalar (starting at 0) rather than the training mean, so the
  // model needs nothing but the shape to be built and trains like every other architecture.
  torch::Tensor global_bias;
  torch::nn::Embedding user_bias{nullptr}, item_bias{nullptr};

 private:
  BiasesOptions options_;
};
TORCH_MODULE(Biases);

// Registry entry: reads `model.y_range`.
CollabModel make_biases(ConfigReader& model, const ModelShape& shape);

}  // namespace collab
