// The metadata models' weights: a linear map from a row's one-hot side information to its vector
// as the CF model defines it, for either side (FeatureModelSide):
//   user: a user's sign-up answers (data/user_features.h) -> CollabModelImpl::user_vectors()
//         (factors, and the bias where the model has one), so a user the model never saw gets a
//         vector (issue 18's "tabular model based on user meta data"; collab fit-users);
//   item: an item's genres and release decade (data/item_features.h) -> item_vectors() (collab
//         fit-items), so a new item gets a vector from its catalogue entry.
// Fitted by infer/{user,item}_metadata_model.h after the CF model; saved as JSON beside the
// checkpoint it was fitted to (feature_model_path) and carried into a TorchScript export as
//   <P>_names (List[str]), <P>_weight [F, d], <P>_bias [d] (buffers)
//   <side>_from_features(self, x: Tensor) -> Tensor   x [F] or [N, F] -> [d] or [N, d]
// with <P> "user_feature" or "item_metadata" (not "item_feature": item_feature_names is already
// a feature-based model's schema, export.h) and <side> "user" or "item".
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

// The item side's model has the same form; its columns are the item feature schema's names
// (ItemFeatureSchema::names(): genres, then decades).
using ItemFeatureModel = UserFeatureModel;

// Which side a metadata model describes: everything its file and export names depend on.
struct FeatureModelSide {
  const char* name;         // "user", "item": <name>_from_features, and error messages
  const char* attributes;   // the export's attribute prefix: "user_feature", "item_metadata"
  const char* file_suffix;  // ".users.json", ".items.json"
  const char* format;       // the file's "format" string
  const char* command;      // what fits it: "fit-users", "fit-items"
  const char* example;      // example column names, for the exported method's comment
};
extern const FeatureModelSide kUserFeatureSide;
extern const FeatureModelSide kItemFeatureSide;

// Where the model fitted to the checkpoint `checkpoint_path` lives: "<checkpoint><suffix>".
std::string feature_model_path(const FeatureModelSide& side, const std::string& checkpoint_path);

// Written with the atomic writer; read back with every shape checked. Throws collab::Error
// naming `path`.
void save_feature_model(const FeatureModelSide& side, const UserFeatureModel& model,
                        const std::string& path);
UserFeatureModel read_feature_model(const FeatureModelSide& side, const std::string& path);

// Adds the buffers, the names and <side>_from_features to an export (models/export.h).
void script_feature_model(const FeatureModelSide& side, const UserFeatureModel& model,
                          torch::jit::Module& m);
// The same read back from an exported module; false when it carries none. Throws collab::Error
// naming `path` when the attributes are inconsistent.
bool read_scripted_feature_model(const FeatureModelSide& side, const torch::jit::Module& m,
                                 const std::string& path, UserFeatureModel& out);

// The user side's spellings of the above ("<checkpoint>.users.json", user_from_features).
inline std::string user_feature_model_path(const std::string& checkpoint_path) {
  return feature_model_path(kUserFeatureSide, checkpoint_path);
}
inline void save_user_feature_model(const UserFeatureModel& model, const std::string& path) {
  save_feature_model(kUserFeatureSide, model, path);
}
inline UserFeatureModel read_user_feature_model(const std::string& path) {
  return read_feature_model(kUserFeatureSide, path);
}
inline void script_user_feature_model(const UserFeatureModel& model, torch::jit::Module& m) {
  script_feature_model(kUserFeatureSide, model, m);
}
inline bool read_scripted_user_feature_model(const torch::jit::Module& m, const std::string& path,
                                             UserFeatureModel& out) {
  return read_scripted_feature_model(kUserFeatureSide, m, path, out);
}

}  // namespace collab
