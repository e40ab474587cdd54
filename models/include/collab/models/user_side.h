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
// and HybridDotProductBias's factors with the user bias as a last column; CollabNN's user
// embedding; Biases: the user bias; ContentBased: the profile (and the user bias).
torch::Tensor user_vectors(const CollabModelImpl& model);

// The item factors [n_items, f] (CollabNN: the item embedding; ContentBased: the item features;
// HybridDotProductBias: free embedding + projection of the features), detached.
torch::Tensor item_factors(const CollabModelImpl& model);

// The learned item bias [n_items], detached (HybridDotProductBias: item bias + the linear bias of
// the features); nullopt for architectures (or configurations) without one.
std::optional<torch::Tensor> item_bias(const CollabModelImpl& model);

// Models whose prediction is sigmoid_range(design[i] . w + offset[i]) for a user vector w: the
// dot-product models, where fold-in is a (regularised) least-squares problem.
struct LinearUserModel {
  torch::Tensor design;  // [n_items, d]: item factors (and a column of ones for the user bias)
  torch::Tensor offset;  // [n_items]: the item bias, or zeros
};
std::optional<LinearUserModel> linear_user_model(const CollabModelImpl& model);

// An item unseen in training, given only its content features (data/item_features.h), as a
// feature-based model sees it: `factors` [f] comparable with item_factors() rows, and the
// linear_user_model() row (`design` [d], `offset`) that rates it for a user vector w as
// sigmoid_range(design . w + offset). ContentBased: the features themselves; HybridDotProductBias:
// the projection of the features (free embedding and item bias zero) and their linear bias.
// nullopt for architectures that do not read item features.
struct FeatureItem {
  torch::Tensor factors;
  torch::Tensor design;
  double offset = 0.0;
};
std::optional<FeatureItem> item_from_features(const CollabModelImpl& model,
                                              const torch::Tensor& features);

// Predicted ratings of `items` (int64 [m]; undefined: every item, [n_items]) for a user whose
// vector is `user_vector` [d], as forward() computes them in eval mode. Differentiable in
// `user_vector` (CollabNN's fold-in takes gradient steps through it). The model should be in
// eval mode (BatchNorm on running statistics).
torch::Tensor score_items(CollabModelImpl& model, const torch::Tensor& user_vector,
                          const torch::Tensor& items = {});

}  // namespace collab
