#include "collab/infer/item_metadata_model.h"

namespace collab {

ItemFeatureModel fit_item_metadata_model(CollabModelImpl& model,
                                         const std::vector<std::string>& columns,
                                         const ItemMetadataData& data,
                                         const MetadataOptions& options) {
  torch::NoGradGuard no_grad;
  MetadataRows rows;
  rows.features = data.features;
  rows.others = &data.users;
  rows.ratings = &data.ratings;
  rows.targets = data.items.empty() ? torch::zeros({0, 1})
                                    : model.item_vectors().index_select(
                                          0, torch::tensor(data.items, torch::kLong));
  const MetadataFit fit = fit_metadata_ridge(
      rows,
      [&](const torch::Tensor& vector, const torch::Tensor& users) {
        return model.score_users(vector, users);
      },
      "item", options);
  ItemFeatureModel out;
  out.columns = columns;
  out.weight = fit.weight;
  out.bias = fit.bias;
  out.report = fit.report;
  return out;
}

}  // namespace collab
