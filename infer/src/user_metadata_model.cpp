#include "collab/infer/user_metadata_model.h"

namespace collab {

UserFeatureModel fit_user_metadata_model(CollabModelImpl& model,
                                         const std::vector<std::string>& columns,
                                         const UserMetadataData& data,
                                         const UserMetadataOptions& options) {
  torch::NoGradGuard no_grad;
  MetadataRows rows;
  rows.features = data.features;
  rows.others = &data.items;
  rows.ratings = &data.ratings;
  rows.targets = data.users.empty() ? torch::zeros({0, 1})
                                    : model.user_vectors().index_select(
                                          0, torch::tensor(data.users, torch::kLong));
  const MetadataFit fit = fit_metadata_ridge(
      rows,
      [&](const torch::Tensor& vector, const torch::Tensor& items) {
        return model.score_items(vector, items);
      },
      "user", options);
  UserFeatureModel out;
  out.columns = columns;
  out.weight = fit.weight;
  out.bias = fit.bias;
  out.report = fit.report;
  return out;
}

}  // namespace collab
