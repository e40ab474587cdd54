// The new-user metadata model's weights: a linear map from a user's one-hot side information
// (data/user_features.h) to a user vector as CollabModelImpl::user_vectors() defines it (factors,
// and the bias where the model has one), so a user the model never saw gets a vector from the
// answers to a few sign-up questions (issue 18's "tabular model based on user meta data").
// Fitted by infer/user_metadata_model.h after the CF model; saved as JSON beside the checkpoint
// it was fitted to (user_feature_model_path) and carried into a TorchScript export as
//   user_feature_names (List[str]), user_feature_weight [F, d], user_feature_bias [d] (buffers)
//   user_from_features(self, x: Tensor) -> Tensor   x [F] or [N, F] -> [d] or [N, d]
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "collab/common/config_reader.h"

namespace collab {

struct UserFeatureModel {
  std::vector<std::string> columns;  // "key=value", one per row of weight
  torch::Tensor weight;              // float [F, d]
  torch::Tensor bias;                // float [d]: the intercept (unpenalised)
  json report;                       // how it was fitted and checked (ridge strength, RMSEs)

  // The user vector(s) of one-hot x ([F] or [N, F]).
  torch::Tensor predict(const torch::Tensor& x) const;
};

// Where the model fitted to the checkpoint `checkpoint_path` lives: "<checkpoint>.users.json".
std::string user_feature_model_path(const std::string& checkpoint_path);

// Written with the atomic writer; read back with every shape checked. Throws collab::Error
// naming `path`.
void save_user_feature_model(const UserFeatureModel& model, const std::string& path);
UserFeatureModel read_user_feature_model(const std::string& path);

// Adds the buffers, the names and user_from_features to an export (models/export.h).
void script_user_feature_model(const UserFeatureModel& model, torch::jit::Module& m);
// The same read back from an exported module; false when it carries none. Throws collab::Error
// naming `path` when the attributes are inconsistent.
bool read_scripted_user_feature_model(const torch::jit::Module& m, const std::string& path,
                                      UserFeatureModel& out);

}  // namespace collab
