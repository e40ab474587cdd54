#include "collab/serve/model_source.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <utility>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/data/dataset.h"
#include "collab/models/export.h"
#include "collab/models/registry.h"
#include "collab/train/checkpoint.h"
#include "collab/train/run_checkpoints.h"
#include "collab/train/run_config.h"

namespace collab {

namespace {

LoadedModel load_torchscript(const std::string& path) {
  ImportedModel imported = import_torchscript(path);
  LoadedModel out;
  out.path = path;
  out.model = std::move(imported.model);
  out.users = std::move(imported.users);
  out.items = std::move(imported.items);
  out.config = std::move(imported.config);
  out.item_feature_names = std::move(imported.item_feature_names);
  out.user_features = std::move(imported.user_features);
  out.item_features = std::move(imported.item_features);
  return out;
}

// "<checkpoint>.users.json" / ".items.json" when it exists, refused when it predicts vectors of
// another width than the model's (`model_dim`).
std::optional<UserFeatureModel> fitted_feature_model(const FeatureModelSide& side,
                                                     const std::string& path,
                                                     const std::function<int64_t()>& model_dim) {
  const std::string file = feature_model_path(side, path);
  if (!std::filesystem::exists(file)) return std::nullopt;
  UserFeatureModel fitted = read_feature_model(side, file);
  const int64_t dim = model_dim();
  if (fitted.bias.size(0) != dim) {
    throw Error(file + ": predicts " + std::to_string(fitted.bias.size(0)) + "-dimensional " +
                side.name + " vectors, but " + path + "'s are " + std::to_string(dim) +
                "-dimensional (fit it again with collab " + side.command + ")");
  }
  return fitted;
}

LoadedModel load_checkpoint_model(const std::string& path) {
  Checkpoint checkpoint = read_checkpoint(path);
  LoadedModel out;
  out.path = path;
  out.config = checkpoint.config;
  out.users = std::move(checkpoint.users);
  out.items = std::move(checkpoint.items);
  out.data_fingerprint = checkpoint.data_fingerprint;
  out.item_feature_names = std::move(checkpoint.item_feature_names);
  try {
    ModelShape shape(out.users.size(), out.items.size());
    shape.n_item_features = static_cast<int64_t>(out.item_feature_names.size());
    out.model = build_model_from_config(out.config, shape, path);
    load_model_state(*out.model, checkpoint.state);
  } catch (const Error& e) {
    const std::string what = e.what();
    throw Error(what.rfind(path, 0) == 0 ? what : path + ": " + what);
  }
  // The metadata models fitted to this very checkpoint (a later checkpoint's vectors differ, so
  // they are looked for beside this file only).
  out.user_features = fitted_feature_model(kUserFeatureSide, path,
                                           [&] { return out.model->user_vectors().size(1); });
  out.item_features = fitted_feature_model(kItemFeatureSide, path,
                                           [&] { return out.model->item_vectors().size(1); });
  return out;
}

// data.rating_range of a resolved config: [lo, hi], or null / absent for none.
std::optional<std::pair<double, double>> configured_rating_range(const json& config) {
  const auto data = config.find("data");
  if (data == config.end() || !data->is_object()) return std::nullopt;
  const auto range = data->find("rating_range");
  if (range == data->end() || !range->is_array() || range->size() != 2 ||
      !(*range)[0].is_number() || !(*range)[1].is_number()) {
    return std::nullopt;
  }
  return std::make_pair((*range)[0].get<double>(), (*range)[1].get<double>());
}

}  // namespace

double reported_rating(double score, const std::optional<std::pair<double, double>>& range) {
  if (!range || std::isnan(score)) return score;
  return std::clamp(score, range->first, range->second);
}

ItemFeatureSchema feature_schema(const LoadedModel& loaded) {
  if (loaded.item_feature_names.empty()) return ItemFeatureSchema::movielens_100k();
  try {
    return ItemFeatureSchema::from_names(loaded.item_feature_names);
  } catch (const Error& e) {
    throw Error(loaded.path + ": " + e.what());
  }
}

LoadedModel load_trained_model(const std::string& path) {
  namespace fs = std::filesystem;
  const std::string file = fs::is_directory(path) ? latest_checkpoint(path) : path;
  require_regular_file(file);
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file + ": cannot open the model (no such file or not readable)");
  char magic[4] = {};
  in.read(magic, sizeof magic);
  // TorchScript archives are zip files ("PK\3\4"); anything else goes to the checkpoint reader,
  // which names what is wrong with it.
  LoadedModel out = std::string(magic, 4) == std::string("PK\3\4", 4) ? load_torchscript(file)
                                                                      : load_checkpoint_model(file);
  out.model->to(torch::kCPU);
  out.model->eval();
  out.rating_range = configured_rating_range(out.config);
  // A diverged run's weights would answer every question with "nan" and exit 0.
  for (const auto& p : out.model->named_parameters()) {
    if (!torch::isfinite(p.value()).all().item<bool>()) {
      throw Error(file + ": the model's " + p.key() +
                  " holds NaN or infinite values (its training diverged)");
    }
  }
  return out;
}

TrainingRatings load_training_ratings(const LoadedModel& loaded, std::ostream& warnings) {
  Dataset data;
  try {
    const RunConfig run = run_config_from_json(loaded.config, loaded.path, {});
    data = load_dataset(run.data);
  } catch (const Error& e) {
    throw Error(loaded.path + ": cannot re-read the training ratings the model's config names (" +
                e.what() + ")");
  }
  if (!loaded.data_fingerprint.empty() && data_fingerprint(data) != loaded.data_fingerprint) {
    warnings << "warning: the data files changed since " << loaded.path
             << " was trained; the items counted as rated in training may be off\n";
  }
  TrainingRatings out;
  out.items_by_user.resize(static_cast<size_t>(loaded.users.size()));
  out.rated_by_user.resize(static_cast<size_t>(loaded.users.size()));
  out.item_counts.assign(static_cast<size_t>(loaded.items.size()), 0);
  // The data's vocabularies are rebuilt in file order, which normally equals the model's, but
  // mapping through raw ids keeps this right whatever the order.
  std::vector<int64_t> user_map(static_cast<size_t>(data.users.size()), -1);
  std::vector<int64_t> item_map(static_cast<size_t>(data.items.size()), -1);
  for (int64_t u = 0; u < data.users.size(); ++u) {
    if (const auto i = loaded.users.find(data.users.raw(u))) user_map[static_cast<size_t>(u)] = *i;
  }
  for (int64_t t = 0; t < data.items.size(); ++t) {
    if (const auto i = loaded.items.find(data.items.raw(t))) item_map[static_cast<size_t>(t)] = *i;
  }
  if (!data.catalog.empty()) {
    out.catalog.genre_names = data.catalog.genre_names;
    out.catalog.resize(loaded.items.size());
    for (size_t t = 0; t < item_map.size() && t < data.catalog.genres.size(); ++t) {
      if (item_map[t] < 0) continue;
      out.catalog.genres[static_cast<size_t>(item_map[t])] = data.catalog.genres[t];
      out.catalog.release_dates[static_cast<size_t>(item_map[t])] = data.catalog.release_dates[t];
    }
  }
  // Row r of `part` in the model's indices; -1 for a user or item the model lacks.
  auto in_model = [&](const Ratings& part, size_t r) {
    return std::make_pair(user_map[static_cast<size_t>(part.users[r])],
                          item_map[static_cast<size_t>(part.items[r])]);
  };
  for (size_t r = 0; r < data.train.size(); ++r) {
    const auto [u, i] = in_model(data.train, r);
    if (u < 0 || i < 0) {
      throw Error(loaded.path + ": the training data holds user \"" +
                  data.users.raw(data.train.users[r]) + "\" / item \"" +
                  data.items.raw(data.train.items[r]) +
                  "\", unknown to the model: the data files are not those it was trained on");
    }
    out.users.push_back(u);
    out.items.push_back(i);
    out.ratings.push_back(data.train.ratings[r]);
    out.items_by_user[static_cast<size_t>(u)].push_back(i);
    out.rated_by_user[static_cast<size_t>(u)].push_back(i);
    ++out.item_counts[static_cast<size_t>(i)];
  }
  for (size_t r = 0; r < data.valid.size(); ++r) {
    const auto [u, i] = in_model(data.valid, r);
    if (u < 0 || i < 0) continue;
    out.rated_by_user[static_cast<size_t>(u)].push_back(i);
    out.valid_users.push_back(u);
    out.valid_items.push_back(i);
    out.valid_ratings.push_back(data.valid.ratings[r]);
  }
  for (size_t r = 0; r < data.capped_out.size(); ++r) {  // rated, though not trained on
    const auto [u, i] = in_model(data.capped_out, r);
    if (u >= 0 && i >= 0) out.rated_by_user[static_cast<size_t>(u)].push_back(i);
  }
  // Ascending and once each: the form top_k_of_row and top_k_for_users skip items in.
  for (auto* lists : {&out.items_by_user, &out.rated_by_user}) {
    for (auto& items : *lists) {
      std::sort(items.begin(), items.end());
      items.erase(std::unique(items.begin(), items.end()), items.end());
    }
  }
  return out;
}

void require_checkpoint_to_fit(const LoadedModel& loaded, const FeatureModelSide& side) {
  // TorchScript exports are zip archives; the fitted model belongs beside a checkpoint.
  char magic[4] = {};
  std::ifstream(loaded.path, std::ios::binary).read(magic, sizeof magic);
  if (std::string(magic, 4) == std::string("PK\3\4", 4)) {
    throw Error(loaded.path + ": " + side.command +
                " needs the checkpoint (or run dir) the export was made from; export it again "
                "afterwards to carry the " +
                side.name + " feature model");
  }
}

}  // namespace collab
