// Cold start for a user the model never saw: "fold in" a user vector from a few of their ratings
// with the item side held fixed, so recommend can rank items for them without retraining.
//
// Both solvers minimise the same objective over the user vector w (factors, plus the bias for
// DotProductBias; see CollabModelImpl::user_vectors in models/collab_model.h):
//   sum_j (rating_j - predict(w, item_j))^2 + prior_weight * (w - mean)' precision (w - mean)
// where mean and precision (the inverse covariance) are those of the trained users' vectors: a
// ridge penalty that pulls towards where users actually lie, so 5 ratings cannot fling 50
// factors anywhere, and with no ratings the answer is the mean (representative) user. With
// prior_weight as the rating noise variance this is the MAP estimate under a Gaussian prior.
//   - dot-product models: regularised least squares, solved exactly without y_range and by a few
//     Gauss-Newton steps through sigmoid_range with it;
//   - CollabNN: Adam steps on a fresh user embedding started at the mean user.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "collab/models/collab_model.h"

namespace collab {

struct FoldInOptions {
  // Weight of the prior term; about the squared rating error of a trained model (0.8 on
  // MovieLens 100k) is the Bayesian choice.
  double prior_weight = 0.8;
  int64_t gauss_newton_steps = 10;  // dot-product models with y_range
  int64_t gradient_steps = 300;     // CollabNN
  double learning_rate = 0.05;      // CollabNN (Adam)
  // Defined ([d]): the prior's mean instead of the trained users' mean, e.g. the new-user
  // metadata model's prediction from the user's side information (user_feature_model.h). The
  // precision stays the trained users' (population) one: a deliberately weak pull, since the
  // metadata explains only a small part of where users lie.
  torch::Tensor prior_mean;
};

// The trained users' distribution the prior is fitted to.
struct UserPrior {
  torch::Tensor mean;       // [d]
  torch::Tensor precision;  // [d, d]: inverse of the (jittered) covariance
};
// Mean and inverse covariance of `vectors` [n_users, d] (double). A small multiple of the mean
// variance is added to the diagonal so the inverse exists even for degenerate factors.
UserPrior fit_user_prior(const torch::Tensor& vectors);

// The "representative user" fallback: the index of the trained user whose vector (a row of
// `vectors` [n_users, d]) is nearest, in Euclidean distance, to the mean of all rows. Unlike the
// mean vector itself it is a real user's taste (issue 18: "pick some particular user to represent
// average taste"); the mean rather than the medoid (the user nearest all others) because the
// mean is O(n d) to find and, for the roughly Gaussian clouds trained embeddings form, both pick
// from the same dense centre.
int64_t representative_user(const torch::Tensor& vectors);

// The user vector [d] (float, CPU) that best explains `ratings` of `items` (indices into the
// model's items). Items may repeat; an empty list gives the prior's mean. `model` must be in eval
// mode; its parameters are not changed.
torch::Tensor fold_in_user(CollabModelImpl& model, const std::vector<int64_t>& items,
                           const std::vector<float>& ratings, const FoldInOptions& options = {});

// The item side's mirror (the item cold start, train/cold_start_eval.h): the item vector [d]
// (float, CPU; factors, plus the bias where the model has one) that best explains `ratings` by
// `users` (indices into the model's users), with the user side held fixed, through the model's
// linear_item_model(). The prior (mean and precision) is fitted to the vectors of
// `trained_items` (int64; undefined: every item), so that items with no training ratings do not
// pull it; options.prior_mean overrides its mean as for users. Throws collab::Error where the
// architecture has no linear item model.
torch::Tensor fold_in_item(CollabModelImpl& model, const std::vector<int64_t>& users,
                           const std::vector<float>& ratings, const FoldInOptions& options = {},
                           const torch::Tensor& trained_items = {});

}  // namespace collab
