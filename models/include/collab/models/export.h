// TorchScript export: turns a trained model and its vocabularies into a self-contained
// torch::jit::Module that LibTorch (torch::jit::load) and Python (torch.jit.load) run without
// collab. Each model scripts its own forward (CollabModelImpl::script_into); this driver adds
// what every export shares. The module, of class __torch__.collab.<arch>, has:
//   forward(self, x: Tensor) -> Tensor     [N, 2] int64 (user, item) indices -> [N] ratings,
//                                          the eager model's output in eval mode
//   score_all(self, user: int) -> Tensor   [n_items] ratings of every item for one user index
//   user_index(self, raw: str) -> int      a raw id's index, -1 when unknown (item_index too)
//   sigmoid_range(self, x: Tensor) -> Tensor
// and the attributes user_ids, item_ids, item_titles (List[str], by index; an item without a
// title has its raw id), y_range (List[float]: [lo, hi] or empty), arch (str), config (str: the
// resolved JSON config), format_version (int), training (bool, False), user_to_index and
// item_to_index (Dict[str, int]; item_to_index also maps a title-keyed vocabulary's item ids,
// its aliases, to their title's index), plus the model's parameters and buffers named as in the eager
// model with '.' replaced by '_' ("layers.0.weight" -> "layers_0_weight"), on the CPU.
// import_torchscript reads such a module back into the eager model (src/export_reader.cpp).
#pragma once

#include <optional>
#include <string>

#include <torch/torch.h>

#include "collab/common/config_reader.h"
#include "collab/data/vocabulary.h"
#include "collab/models/collab_model.h"
#include "collab/models/user_feature_model.h"

namespace collab {

// Bumped when the exported module's methods or attributes change incompatibly.
constexpr int64_t kExportFormatVersion = 1;

// Builds the scripted module. `users` and `items` must be the vocabularies the model was trained
// with (their sizes are checked against the embedding tables); throws collab::Error otherwise.
// `item_feature_names` (a feature-based model's columns, data/item_features.h) becomes the
// attribute of that name when not empty. `user_features` (the new-user metadata model fitted to
// this model, or null) adds user_from_features, `item_features` (the new-item metadata model of
// collab fit-items, or null) item_from_features (user_feature_model.h).
torch::jit::Module to_torchscript(const CollabModelImpl& model, const Vocabulary& users,
                                  const Vocabulary& items, const std::string& config_json,
                                  const std::vector<std::string>& item_feature_names = {},
                                  const UserFeatureModel* user_features = nullptr,
                                  const ItemFeatureModel* item_features = nullptr);

// to_torchscript, saved to `path` atomically: written to a temporary file in the same folder,
// fsynced, then renamed, so `path` never holds a partial module. Throws collab::Error naming
// `path` when it cannot be written.
void export_torchscript(const CollabModelImpl& model, const Vocabulary& users,
                        const Vocabulary& items, const std::string& config_json,
                        const std::string& path,
                        const std::vector<std::string>& item_feature_names = {},
                        const UserFeatureModel* user_features = nullptr,
                        const ItemFeatureModel* item_features = nullptr);

// An export read back: the eager model its `config` builds (registry.h), with the exported
// tensors copied in by name, and its vocabularies (titles and aliases included).
struct ImportedModel {
  CollabModel model;  // on the CPU, in the mode build_model leaves it (training)
  Vocabulary users;
  Vocabulary items;
  json config;  // the run's resolved config
  std::vector<std::string> item_feature_names;  // of a feature-based model; empty before schemas
  std::optional<UserFeatureModel> user_features;  // the new-user metadata model, where exported
  std::optional<ItemFeatureModel> item_features;  // the new-item metadata model, where exported
};

// Reads the TorchScript module at `path` that export_torchscript wrote. Throws collab::Error
// naming `path` when it is no loadable module, no collab export, or its tensors do not fit the
// model its config builds.
ImportedModel import_torchscript(const std::string& path);

}  // namespace collab
