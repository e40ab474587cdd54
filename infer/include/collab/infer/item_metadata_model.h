// The new-item metadata model, the item front end of metadata_model.h's side-agnostic fit: a
// ridge regression from each trained item's content features (data/item_features.h: genre flags
// and release decade, which every MovieLens catalogue gives) to its vector as the model defines it
// (CollabModelImpl::item_vectors(): factors, plus the bias where the model has one), the ridge
// strength chosen on held-out items by the RMSE of their predicted training ratings. It needs the
// model's item views (item_vectors, linear_item_model: DotProduct, DotProductBias). Used by the
// item cold-start protocol (train/cold_start_eval.h) and by collab fit-items
// (serve/item_feature_fit.h), which saves it beside the checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "collab/infer/metadata_model.h"
#include "collab/models/collab_model.h"
#include "collab/models/user_feature_model.h"

namespace collab {

// The trained items to fit to: their model indices, feature rows and training ratings (user
// indices and values).
struct ItemMetadataData {
  std::vector<int64_t> items;
  torch::Tensor features;  // float [items.size(), F]
  std::vector<std::vector<int64_t>> users;
  std::vector<std::vector<float>> ratings;
};

// ItemFeatureModel (models/user_feature_model.h): the same linear map as the user one (columns,
// weight [F, d], bias [d], report, predict()), from an item's feature row to an item vector; the
// columns are the item feature schema's names.

// The ridge chosen on held-out items, then refitted on all of them; the report as
// fit_metadata_ridge's with "item" rows ("rmse_mean_item", "holdout_items", "fit_items").
// Throws collab::Error when fewer than 10 items are given or the architecture has no item views.
ItemFeatureModel fit_item_metadata_model(CollabModelImpl& model,
                                         const std::vector<std::string>& columns,
                                         const ItemMetadataData& data,
                                         const MetadataOptions& options = {});

}  // namespace collab
