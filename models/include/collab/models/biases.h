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
