// What `recommend`, `similar` and `interpret` read: a trained model given as a checkpoint file, a
// run dir (its latest checkpoint) or an exported TorchScript model.pt, rebuilt as the eager model
// with its vocabularies; and, on demand, the ratings it was trained on.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collab/common/config_reader.h"
#include "collab/data/item_features.h"
#include "collab/data/vocabulary.h"
#include "collab/models/collab_model.h"
#include "collab/models/user_feature_model.h"

namespace collab {

struct LoadedModel {
  std::string path;   // the file read (a run dir's latest checkpoint, or model.pt)
  CollabModel model;  // on the CPU, in eval mode
  Vocabulary users;
  Vocabulary items;              // with titles where the training data had them
  json config;                   // the run's resolved config
  std::string data_fingerprint;  // checkpoints only: of the data trained on; "" for model.pt
  // The item-feature columns' names of a feature-based model (empty: none stored, MovieLens
  // 100k's schema); feature_schema() reads them.
  std::vector<std::string> item_feature_names;
  // The run's data.rating_range, when its config sets one: reported predictions are clipped to
  // it (reported_rating).
  std::optional<std::pair<double, double>> rating_range;
  // The new-user metadata model: a checkpoint's "<checkpoint>.users.json" (collab fit-users) or
  // an export's user_from_features; none when neither exists.
  std::optional<UserFeatureModel> user_features;
  // The new-item metadata model: "<checkpoint>.items.json" (collab fit-items) or an export's
  // item_from_features; none when neither exists.
  std::optional<ItemFeatureModel> item_features;
};

// A prediction as collab reports it to a user: clipped to `range` when there is one, since a
// model whose y_range is wider than the scale (fastai's (0, 5.5) for 1-5 stars), or that has none,
// predicts ratings no one can give. Rankings use the raw score, and JSON outputs carry it too,
// as "raw_score".
double reported_rating(double score, const std::optional<std::pair<double, double>>& range);

// The item-feature columns `loaded` was trained on: its stored names, else MovieLens 100k's (a
// model saved before schemas were stored).
ItemFeatureSchema feature_schema(const LoadedModel& loaded);

// Reads `path`: a directory is a run dir (its latest checkpoint), a file starting with the
// checkpoint magic a checkpoint, a zip archive a TorchScript export, whose `config` rebuilds the
// eager model and whose tensors are copied in by name. Throws collab::Error naming `path`.
LoadedModel load_trained_model(const std::string& path);

// The training split's ratings, re-read from the data files the resolved config names (a model
// stores no ratings), as parallel (user, item) index arrays in the model's vocabularies, and
// rating counts per item. Throws collab::Error naming the model when the files are gone or no
// longer match the model's vocabularies; warns on `warnings` when a checkpoint's data
// fingerprint says the files changed since training.
struct TrainingRatings {
  std::vector<int64_t> users;
  std::vector<int64_t> items;
  std::vector<float> ratings;                       // the rating of each (user, item) row
  std::vector<std::vector<int64_t>> items_by_user;  // [n_users]: items each rated, ascending
  // [n_users]: the items each user rated anywhere in the run's data (training and validation),
  // ascending: what recommendations leave out, so a list never offers a film the user has rated.
  std::vector<std::vector<int64_t>> rated_by_user;
  std::vector<int64_t> item_counts;                 // [n_items]
  // The data's item catalogue (data.items) re-indexed to the model's items (a model's item the
  // data lacks has no genre and no date); empty when the config names none.
  ItemCatalog catalog;
  // The validation split's rows in the same vocabularies (rows of a user or item the model does
  // not know are left out): what `collab audit` measures accuracy on.
  std::vector<int64_t> valid_users;
  std::vector<int64_t> valid_items;
  std::vector<float> valid_ratings;
};
TrainingRatings load_training_ratings(const LoadedModel& loaded, std::ostream& warnings);

// collab fit-users / fit-items fit a metadata model beside a checkpoint: throws collab::Error
// when `loaded` is a TorchScript export instead (export carries the fitted model).
void require_checkpoint_to_fit(const LoadedModel& loaded, const FeatureModelSide& side);

}  // namespace collab
