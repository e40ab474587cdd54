// `collab fit-users`' one step: fit the new-user metadata model (infer/user_metadata_model.h) to
// a trained checkpoint from a u.user file and its training ratings, and save it beside the
// checkpoint ("<checkpoint>.users.json", models/user_feature_model.h), where recommend, serve and
// export find it. A separate step after training rather than part of `collab train`: it needs only
// the finished model, so it runs on any existing checkpoint without retraining, and a run without
// side information is unaffected.
#pragma once

#include <iosfwd>
#include <string>

#include "collab/infer/user_metadata_model.h"
#include "collab/serve/model_source.h"

namespace collab {

struct UserFeatureFitResult {
  UserFeatureModel model;
  std::string path;  // where it was saved
};

// Fits to `loaded` (a checkpoint: a model.pt is refused, export carries the fitted model instead)
// with `user_file`'s users; the model's users the file does not list are left out (counted in the
// report as "users_without_features"). Throws collab::Error naming the file at fault.
UserFeatureFitResult fit_and_save_user_features(const LoadedModel& loaded,
                                                const std::string& user_file,
                                                const UserMetadataOptions& options,
                                                std::ostream& warnings);

}  // namespace collab
