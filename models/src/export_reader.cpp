// import_torchscript (export.h): an exported TorchScript module read back into the eager model
// its config builds, so every command reads a model.pt like a checkpoint.
#include <torch/script.h>

#include "collab/common/error.h"
#include "collab/models/export.h"
#include "collab/models/layers.h"
#include "collab/models/registry.h"

namespace collab {

namespace {

std::vector<std::string> string_list(const torch::jit::Module& m, const std::string& name,
                                     const std::string& path) {
  if (!m.hasattr(name)) throw Error(path + ": TorchScript module has no attribute " + name);
  std::vector<std::string> out;
  for (const auto& v : m.attr(name).toListRef()) out.push_back(v.toStringRef());
  return out;
}

torch::jit::Module load_module(const std::string& path) {
  try {
    return torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw Error(path + ": not a loadable TorchScript model (" + what + ")");
  }
}

// The vocabularies the export carries: user_ids; item_ids with item_titles (the raw id where an
// item has no title) and item_to_index, whose keys that are no item's own id are aliases
// (data.item_key "title": item ids).
void read_vocabularies(const torch::jit::Module& m, const std::string& path, ImportedModel& out) {
  for (const auto& raw : string_list(m, "user_ids", path)) out.users.add(raw);
  const auto item_ids = string_list(m, "item_ids", path);
  const auto titles = string_list(m, "item_titles", path);
  for (size_t i = 0; i < item_ids.size(); ++i) {
    const int64_t index = out.items.add(item_ids[i]);
    if (i < titles.size() && titles[i] != item_ids[i]) out.items.set_title(index, titles[i]);
  }
  if (!m.hasattr("item_to_index")) return;
  try {
    for (const auto& entry : m.attr("item_to_index").toGenericDict()) {
      const std::string& key = entry.key().toStringRef();
      const int64_t index = entry.value().toInt();
      if (index < 0 || index >= out.items.size() || out.items.raw(index) != key) {
        out.items.add_alias(key, index);
      }
    }
  } catch (const Error& e) {
    throw Error(path + ": the export's item_to_index is inconsistent (" + e.what() + ")");
  }
}

// The export names each eager tensor by script_name(): copy them back one by one.
void copy_tensors(const torch::jit::Module& m, const std::string& path, CollabModelImpl& model) {
  torch::NoGradGuard no_grad;
  auto copy = [&](const std::string& name, torch::Tensor& target) {
    const std::string attr = script_name(name);
    if (!m.hasattr(attr)) throw Error(path + ": the export has no tensor " + attr);
    const torch::Tensor source = m.attr(attr).toTensor();
    if (model.data_sized_buffer(name) && source.dtype() == target.dtype()) {
      target.resize_(source.sizes());
    }
    if (source.sizes() != target.sizes()) {
      throw Error(path + ": tensor " + attr + " has another shape than the config's model");
    }
    target.copy_(source);
  };
  for (auto& p : model.named_parameters()) copy(p.key(), p.value());
  for (auto& b : model.named_buffers()) copy(b.key(), b.value());
}

}  // namespace

ImportedModel import_torchscript(const std::string& path) {
  const torch::jit::Module m = load_module(path);
  if (!m.hasattr("config")) throw Error(path + ": not a collab export (no config attribute)");
  ImportedModel out;
  try {
    out.config = parse_json_text(m.attr("config").toStringRef(), path + " (its config attribute)");
  } catch (const Error& e) {
    throw Error(path + ": the export's config attribute is not a config (" + e.what() + ")");
  }
  read_vocabularies(m, path, out);
  ModelShape shape(out.users.size(), out.items.size());
  if (m.hasattr("item_feature_names")) {
    for (const auto& name : m.attr("item_feature_names").toListRef()) {
      out.item_feature_names.push_back(name.toStringRef());
    }
    shape.n_item_features = static_cast<int64_t>(out.item_feature_names.size());
  }
  out.model = build_model_from_config(out.config, shape, path);
  copy_tensors(m, path, *out.model);
  UserFeatureModel user_features;
  if (read_scripted_user_feature_model(m, path, user_features)) {
    out.user_features = std::move(user_features);
  }
  ItemFeatureModel item_features;
  if (read_scripted_feature_model(kItemFeatureSide, m, path, item_features)) {
    out.item_features = std::move(item_features);
  }
  return out;
}

}  // namespace collab
