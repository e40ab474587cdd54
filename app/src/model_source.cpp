#include "collab/app/model_source.h"

#include <filesystem>
#include <fstream>
#include <ostream>

#include <torch/script.h>

#include "collab/train/run_checkpoints.h"
#include "collab/train/run_config.h"
#include "collab/common/error.h"
#include "collab/data/dataset.h"
#include "collab/models/layers.h"
#include "collab/models/registry.h"
#include "collab/train/checkpoint.h"

namespace collab {

namespace {

CollabModel build_from_config(const json& config, const ModelShape& shape,
                              const std::string& path) {
  if (!config.is_object() || !config.contains("model") || !config["model"].is_object()) {
    throw Error(path + ": the model's config has no model section");
  }
  json section_json = config["model"];
  ConfigReader section(section_json, "model", nullptr);
  return build_model(section, shape);
}

std::vector<std::string> string_list(const torch::jit::Module& m, const std::string& name,
                                     const std::string& path) {
  if (!m.hasattr(name)) throw Error(path + ": TorchScript module has no attribute " + name);
  std::vector<std::string> out;
  for (const auto& v : m.attr(name).toListRef()) out.push_back(v.toStringRef());
  return out;
}

LoadedModel load_torchscript(const std::string& path) {
  torch::jit::Module m;
  try {
    m = torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw Error(path + ": not a loadable TorchScript model (" + what + ")");
  }
  if (!m.hasattr("config")) throw Error(path + ": not a collab export (no config attribute)");
  LoadedModel out;
  out.path = path;
  try {
    out.config = json::parse(m.attr("config").toStringRef());
  } catch (const json::exception&) {
    throw Error(path + ": the export's config attribute is not JSON");
  }
  for (const auto& raw : string_list(m, "user_ids", path)) out.users.add(raw);
  const auto item_ids = string_list(m, "item_ids", path);
  const auto titles = string_list(m, "item_titles", path);
  for (size_t i = 0; i < item_ids.size(); ++i) {
    const int64_t index = out.items.add(item_ids[i]);
    // The export writes the raw id where an item has no title; keep that as "no title".
    if (i < titles.size() && titles[i] != item_ids[i]) out.items.set_title(index, titles[i]);
  }
  // item_to_index keys that are no item's own id are aliases (data.item_key "title": item ids).
  if (m.hasattr("item_to_index")) {
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
  out.model = build_from_config(out.config, {out.users.size(), out.items.size()}, path);
  // The export names each eager tensor by script_name(): copy them back one by one.
  torch::NoGradGuard no_grad;
  auto copy = [&](const std::string& name, torch::Tensor& target) {
    const std::string attr = script_name(name);
    if (!m.hasattr(attr)) throw Error(path + ": the export has no tensor " + attr);
    const torch::Tensor source = m.attr(attr).toTensor();
    if (source.sizes() != target.sizes()) {
      throw Error(path + ": tensor " + attr + " has another shape than the config's model");
    }
    target.copy_(source);
  };
  for (auto& p : out.model->named_parameters()) copy(p.key(), p.value());
  for (auto& b : out.model->named_buffers()) copy(b.key(), b.value());
  return out;
}

LoadedModel load_checkpoint_model(const std::string& path) {
  Checkpoint checkpoint = read_checkpoint(path);
  LoadedModel out;
  out.path = path;
  out.config = checkpoint.config;
  out.users = std::move(checkpoint.users);
  out.items = std::move(checkpoint.items);
  out.data_fingerprint = checkpoint.data_fingerprint;
  try {
    out.model = build_from_config(out.config, {out.users.size(), out.items.size()}, path);
    load_model_state(*out.model, checkpoint.state);
  } catch (const Error& e) {
    const std::string what = e.what();
    throw Error(what.rfind(path, 0) == 0 ? what : path + ": " + what);
  }
  return out;
}

}  // namespace

LoadedModel load_trained_model(const std::string& path) {
  namespace fs = std::filesystem;
  const std::string file = fs::is_directory(path) ? latest_checkpoint(path) : path;
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
  for (size_t r = 0; r < data.train.size(); ++r) {
    const int64_t u = user_map[static_cast<size_t>(data.train.users[r])];
    const int64_t i = item_map[static_cast<size_t>(data.train.items[r])];
    if (u < 0 || i < 0) {
      throw Error(loaded.path + ": the training data holds user \"" +
                  data.users.raw(data.train.users[r]) + "\" / item \"" +
                  data.items.raw(data.train.items[r]) +
                  "\", unknown to the model: the data files are not those it was trained on");
    }
    out.users.push_back(u);
    out.items.push_back(i);
    out.items_by_user[static_cast<size_t>(u)].push_back(i);
    ++out.item_counts[static_cast<size_t>(i)];
  }
  return out;
}

}  // namespace collab
