#include "collab/serve/item_feature_fit.h"

#include "collab/common/error.h"
#include "collab/data/item_features.h"

namespace collab {

ItemFeatureFitResult fit_and_save_item_features(const LoadedModel& loaded,
                                                const MetadataOptions& options,
                                                std::ostream& warnings) {
  require_checkpoint_to_fit(loaded, kItemFeatureSide);
  // Checked before the data is read: the fit scores an item vector linearly against the users.
  if (!loaded.model->linear_item_model()) {
    throw Error(loaded.path +
                ": fit-items needs a model whose items are vectors scored linearly "
                "(DotProduct, DotProductBias); this one is " +
                loaded.model->arch());
  }
  const TrainingRatings training = load_training_ratings(loaded, warnings);
  if (training.catalog.empty()) {
    throw Error(loaded.path +
                ": fit-items reads the items' genres and release decades from the item "
                "catalogue, and the model's config names none (data.items: u.item, movies.dat, "
                "movies.csv or a CSV with data.items_format \"csv\")");
  }
  const ItemFeatureSchema schema = ItemFeatureSchema::of(training.catalog);
  const torch::Tensor features = item_feature_matrix(training.catalog, schema, loaded.items.size());

  // One row per item with training ratings: an unrated item's vector is its random start.
  ItemMetadataData data;
  std::vector<int64_t> row_of(static_cast<size_t>(loaded.items.size()), -1);
  for (size_t r = 0; r < training.items.size(); ++r) {
    const int64_t i = training.items[r];
    int64_t& row = row_of[static_cast<size_t>(i)];
    if (row < 0) {
      row = static_cast<int64_t>(data.items.size());
      data.items.push_back(i);
      data.users.emplace_back();
      data.ratings.emplace_back();
    }
    data.users[static_cast<size_t>(row)].push_back(training.users[r]);
    data.ratings[static_cast<size_t>(row)].push_back(training.ratings[r]);
  }
  data.features = features.index_select(0, torch::tensor(data.items, torch::kLong));
  ItemFeatureFitResult out;
  try {
    out.model = fit_item_metadata_model(*loaded.model, schema.names(), data, options);
  } catch (const Error& e) {
    throw Error(loaded.path + ": " + e.what());
  }
  out.model.report["items_without_ratings"] =
      loaded.items.size() - static_cast<int64_t>(data.items.size());
  out.path = feature_model_path(kItemFeatureSide, loaded.path);
  save_feature_model(kItemFeatureSide, out.model, out.path);
  return out;
}

}  // namespace collab
