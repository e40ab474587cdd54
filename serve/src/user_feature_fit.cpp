#include "collab/serve/user_feature_fit.h"

#include "collab/common/error.h"
#include "collab/data/user_features.h"

namespace collab {

UserFeatureFitResult fit_and_save_user_features(const LoadedModel& loaded,
                                                const std::string& user_file,
                                                const UserMetadataOptions& options,
                                                std::ostream& warnings) {
  require_checkpoint_to_fit(loaded, kUserFeatureSide);
  const std::vector<UserRecord> records = read_user_file(user_file);
  const std::vector<std::string> columns = user_feature_columns(records);
  const TrainingRatings training = load_training_ratings(loaded, warnings);

  UserMetadataData data;
  std::vector<int64_t> row_of(static_cast<size_t>(loaded.users.size()), -1);
  std::vector<float> flat;
  for (const UserRecord& r : records) {
    const auto u = loaded.users.find(r.id);
    if (!u) continue;  // a listed user the model never saw
    row_of[static_cast<size_t>(*u)] = static_cast<int64_t>(data.users.size());
    data.users.push_back(*u);
    const auto x = encode_user_features(columns, user_feature_pairs(r), user_file);
    flat.insert(flat.end(), x.begin(), x.end());
  }
  data.items.resize(data.users.size());
  data.ratings.resize(data.users.size());
  for (size_t r = 0; r < training.users.size(); ++r) {
    const int64_t row = row_of[static_cast<size_t>(training.users[r])];
    if (row < 0) continue;
    data.items[static_cast<size_t>(row)].push_back(training.items[r]);
    data.ratings[static_cast<size_t>(row)].push_back(training.ratings[r]);
  }
  data.features =
      torch::tensor(flat, torch::kFloat)
          .reshape({static_cast<int64_t>(data.users.size()), static_cast<int64_t>(columns.size())});
  UserFeatureFitResult out;
  try {
    out.model = fit_user_metadata_model(*loaded.model, columns, data, options);
  } catch (const Error& e) {
    throw Error(user_file + ": " + e.what());
  }
  out.model.report["users_without_features"] =
      loaded.users.size() - static_cast<int64_t>(data.users.size());
  out.model.report["user_file"] = user_file;
  out.path = user_feature_model_path(loaded.path);
  save_user_feature_model(out.model, out.path);
  return out;
}

}  // namespace collab
