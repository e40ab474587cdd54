// A blend of trained models (`compare`'s "blend" section): the predicted rating is an intercept
// plus a weighted sum of the models' predicted ratings, the weights fitted by least squares on
// ratings none of the models trained on (an inner validation split of the training part), so the
// blend learns how far to trust each model rather than memorising the training ratings. A small
// ridge keeps near-identical models (two seeds of one architecture) well-posed.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "collab/models/collab_model.h"

namespace collab {

struct BlendWeights {
  std::vector<double> weights;  // one per model
  double intercept = 0;
};

// Least squares of `targets` [n] on the columns `predictions` (each [n]) and a constant, with
// `ridge` * n added to the weights' diagonal (not the intercept's). Throws collab::Error for no
// models, columns of another length, or fewer rows than unknowns.
BlendWeights fit_blend(const std::vector<torch::Tensor>& predictions, const torch::Tensor& targets,
                       double ridge);

// The blend as a model: forward() is the weighted sum of the models' forward(), so every metric
// and ranking of a model applies to it. Not exportable (script_into throws).
class BlendedModelImpl : public CollabModelImpl {
 public:
  BlendedModelImpl(std::vector<CollabModel> models, BlendWeights weights);
  torch::Tensor forward(torch::Tensor x) override;
  std::string arch() const override { return "Blend"; }
  std::optional<YRange> y_range() const override { return std::nullopt; }
  void script_into(torch::jit::Module& m) const override;

 private:
  std::vector<CollabModel> models_;
  BlendWeights weights_;
};

}  // namespace collab
