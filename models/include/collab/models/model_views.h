// What a trained model offers inference beyond forward(): the shapes of the views that
// CollabModelImpl's view methods return (the trained users' vectors, the item factors and biases,
// the linear form of a prediction in the user vector, an unseen item built from its features),
// and the tables export.h checks against the vocabularies. Each architecture implements its views
// beside its forward(), so callers ask the model instead of switching on its type.
#pragma once

#include <string>

#include <torch/torch.h>

namespace collab {

// Models whose prediction is sigmoid_range(design[i] . w + offset[i]) for a user vector w: the
// dot-product and bias models, where fold-in is a (regularised) least-squares problem.
struct LinearUserModel {
  torch::Tensor design;  // [n_items, d]: item factors (and a column of ones for the user bias)
  torch::Tensor offset;  // [n_items]: the item bias (and any global term), or zeros
};
// The same form serves the item side (CollabModelImpl::linear_item_model()) with the roles
// swapped: rows per user, the user's factors (and ones), offset the user bias.

// An item unseen in training, given only its content features (data/item_features.h), as a
// feature-based model sees it: `factors` [f] comparable with item_factor_table() rows, and the
// linear_user_model() row (`design` [d], `offset`) that rates it for a user vector w as
// sigmoid_range(design . w + offset).
struct FeatureItem {
  torch::Tensor factors;
  torch::Tensor design;
  double offset = 0.0;
};

// The eager names (named_parameters / named_buffers) of a table with one row per user and one
// with one row per item, which export checks against the vocabularies' sizes; "" for none.
struct RowTables {
  std::string users;
  std::string items;
};

}  // namespace collab
