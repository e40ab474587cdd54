// Fitting the new-user metadata model (models/user_feature_model.h) after the CF model, the user
// front end of metadata_model.h's side-agnostic fit: a ridge regression from each trained user's
// one-hot side information (data/user_features.h) to their vector as the model defines it
// (CollabModelImpl::user_vectors(): factors, plus the bias where the model has one).
//
// Why ridge: with ~40 one-hot columns and ~1000 users a linear model is what the data supports;
// the penalty shrinks rare groups (an occupation with 7 users) towards the mean user instead of
// fitting their noise, and the intercept is not penalised, so a large penalty degrades gracefully
// to exactly the mean-user fallback. The penalty is chosen on held-out training users by the RMSE
// of their predicted ratings of their own training ratings: the quantity a cold-start
// recommendation is judged by, rather than the distance between vectors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "collab/infer/metadata_model.h"
#include "collab/models/collab_model.h"
#include "collab/models/user_feature_model.h"

namespace collab {

// The trained users with side information: their model indices, one-hot features and training
// ratings (item indices and values).
struct UserMetadataData {
  std::vector<int64_t> users;
  torch::Tensor features;  // float [users.size(), F]
  std::vector<std::vector<int64_t>> items;
  std::vector<std::vector<float>> ratings;
};

using UserMetadataOptions = MetadataOptions;

// The ridge chosen on held-out users, then refitted on all of them. The report holds the chosen
// "ridge", "rmse_by_ridge", and on the held-out users "rmse_metadata" and "rmse_mean_user" (the
// mean of the fitting users' vectors), over "holdout_ratings" ratings of "holdout_users" users.
// Throws collab::Error when fewer than 10 users have side information.
UserFeatureModel fit_user_metadata_model(CollabModelImpl& model,
                                         const std::vector<std::string>& columns,
                                         const UserMetadataData& data,
                                         const UserMetadataOptions& options = {});

}  // namespace collab
