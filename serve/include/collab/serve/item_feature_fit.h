// `collab fit-items`' one step, the item mirror of user_feature_fit.h: fit the new-item metadata
// model (infer/item_metadata_model.h: genres and release decade -> item vector) to a trained
// checkpoint from the item catalogue its config names (data.items) and its training ratings, and
// save it beside the checkpoint ("<checkpoint>.items.json", models/user_feature_model.h), where
// `similar --features` and `export` find it.
#pragma once

#include <iosfwd>
#include <string>

#include "collab/infer/item_metadata_model.h"
#include "collab/serve/model_source.h"

namespace collab {

struct ItemFeatureFitResult {
  ItemFeatureModel model;
  std::string path;  // where it was saved
};

// Fits to `loaded` (a checkpoint: a model.pt is refused) on its items with training ratings (the
// others are counted in the report as "items_without_ratings"). Throws collab::Error naming the
// model when its architecture has no item views (only DotProduct and DotProductBias have them)
// or its config names no item catalogue.
ItemFeatureFitResult fit_and_save_item_features(const LoadedModel& loaded,
                                                const MetadataOptions& options,
                                                std::ostream& warnings);

}  // namespace collab
