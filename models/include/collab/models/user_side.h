// A trained model seen from the user side, for recommending beyond the training pairs: the vector
// that stands for each trained user, the item factors and biases, and the ratings of items for
// an arbitrary user vector (a user folded in after training, see train/fold_in.h). Architectures
// differ in how a user enters the prediction, so this is the one place that knows each of them;
// a new architecture adds its case here (others get a collab::Error naming the architecture).
#pragma once

#include <optional>

#include <torch/torch.h>

#include "collab/models/collab_model.h"

namespace collab {

// The trained users' vectors, [n_users, d], detached: DotProduct's factors; DotProductBias's
// factors with the user bias as a last column; CollabNN's user embedding; Biases: the user bias.
torch::Tensor user_vectors(const CollabModelImpl& model);

// The item factors [n_items, f] (CollabNN: the item embedding), detached.
torch::Tensor item_factors(const CollabModelImpl& model);

// The learned item bias [n_items], detached; nullopt for architectures without one.
std::optional<torch::Tensor> item_bias(const CollabModelImpl& model);

// Models whose prediction is sigmoid_range(design[i] . w + offset[i]) for a user vector w: the
// dot-product models, where fold-in is a (regularised) least-squares problem.
struct LinearUserModel {
  torch::Tensor design;  // [n_items, d]: item factors (and a column of ones for the user bias)
  torch::Tensor offset;  // [n_items]: the item bias, or zeros
};
std::optional<LinearUserModel> linear_user_model(const CollabModelImpl& model);

// Predicted ratings of `items` (int64 [m]; undefined: every item, [n_items]) for a user whose
// vector is `user_vector` [d], as forward() computes them in eval mode. Differentiable in
// `user_vector` (CollabNN's fold-in takes gradient steps through it). The model should be in
// eval mode (BatchNorm on running statistics).
torch::Tensor score_items(CollabModelImpl& model, const torch::Tensor& user_vector,
                          const torch::Tensor& items = {});

}  // namespace collab
