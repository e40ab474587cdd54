#include "collab/models/export.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/models/layers.h"

namespace collab {

namespace {

namespace fs = std::filesystem;

// The vocabularies must be the ones the tables were built for: a mismatch would make every
// exported lookup silently score the wrong row. `table` is one the model names (row_tables()).
void check_rows(const CollabModelImpl& model, const std::string& table, const char* what,
                int64_t n) {
  if (table.empty()) return;
  const auto params = model.named_parameters();
  const auto buffers = model.named_buffers();
  const torch::Tensor* weight = params.find(table);
  if (weight == nullptr) weight = buffers.find(table);
  if (weight == nullptr) {
    throw std::logic_error(model.arch() + "::row_tables names no tensor \"" + table + "\"");
  }
  if (weight->size(0) != n) {
    throw Error(std::string("export: the ") + what + " vocabulary has " + std::to_string(n) +
                " entries but the model's " + table + " has " + std::to_string(weight->size(0)) +
                " rows");
  }
}

c10::List<std::string> strings(const std::vector<std::string>& values) {
  c10::List<std::string> list;
  list.reserve(values.size());
  for (const auto& v : values) list.push_back(v);
  return list;
}

c10::Dict<std::string, int64_t> index_of(const Vocabulary& vocab) {
  c10::Dict<std::string, int64_t> dict;
  dict.reserve(static_cast<size_t>(vocab.size()));
  for (int64_t i = 0; i < vocab.size(); ++i) dict.insert(vocab.raw(i), i);
  // Aliases (the item ids of a title-keyed vocabulary) look up their entry too.
  for (const auto& [alias, i] : vocab.aliases()) dict.insert(alias, i);
  return dict;
}

}  // namespace

torch::jit::Module to_torchscript(const CollabModelImpl& model, const Vocabulary& users,
                                  const Vocabulary& items, const std::string& config_json,
                                  const std::vector<std::string>& item_feature_names,
                                  const UserFeatureModel* user_features,
                                  const ItemFeatureModel* item_features) {
  const RowTables rows = model.row_tables();
  check_rows(model, rows.users, "user", users.size());
  check_rows(model, rows.items, "item", items.size());

  // The __torch__ prefix is where torch.jit.load looks classes up.
  torch::jit::Module m(c10::QualifiedName("__torch__.collab." + model.arch()));
  // Module::train/eval and Python's ScriptModule read `training`; it must exist. Exported
  // modules always compute in eval semantics, whatever it is set to.
  m.register_attribute("training", c10::BoolType::get(), false);
  m.register_attribute("format_version", c10::IntType::get(), kExportFormatVersion);
  m.register_attribute("arch", c10::StringType::get(), model.arch());
  m.register_attribute("config", c10::StringType::get(), config_json);
  m.register_attribute("user_ids", c10::ListType::ofStrings(), strings(users.raws()));
  m.register_attribute("item_ids", c10::ListType::ofStrings(), strings(items.raws()));
  std::vector<std::string> titles;
  titles.reserve(static_cast<size_t>(items.size()));
  for (int64_t i = 0; i < items.size(); ++i) titles.push_back(items.title(i));
  m.register_attribute("item_titles", c10::ListType::ofStrings(), strings(titles));
  if (!item_feature_names.empty()) {
    m.register_attribute("item_feature_names", c10::ListType::ofStrings(),
                         strings(item_feature_names));
  }
  // Dicts make the raw-id lookups O(1) for a service; they repeat the ids, a small price.
  const auto dict_type = c10::DictType::create(c10::StringType::get(), c10::IntType::get());
  m.register_attribute("user_to_index", dict_type, index_of(users));
  m.register_attribute("item_to_index", dict_type, index_of(items));

  script_sigmoid_range(m, model.y_range());
  model.script_into(m);
  if (!m.find_method("forward")) {
    throw std::logic_error(model.arch() + "::script_into defined no forward");
  }
  if (user_features != nullptr) script_user_feature_model(*user_features, m);
  if (item_features != nullptr) script_feature_model(kItemFeatureSide, *item_features, m);

  // score_all builds its index pairs where the weights are, so it still works after .to(device).
  const auto params = m.named_parameters(/*recurse=*/false);
  if (params.size() == 0) throw std::logic_error(model.arch() + " has no parameters to export");
  const std::string weights = "self." + (*params.begin()).name;
  m.define(R"JIT(
def user_index(self, raw: str) -> int:
    return self.user_to_index.get(raw, -1)

def item_index(self, raw: str) -> int:
    return self.item_to_index.get(raw, -1)

def score_all(self, user: int) -> Tensor:
    # assert: the only raise a module defined in C++ can use (no Python exception names).
    n_users = len(self.user_ids)
    assert user >= 0 and user < n_users, ("score_all: user index " + str(user) +
                                           " is outside [0, " + str(n_users) + ")")
    # An int end makes arange int64 (spelling torch.long needs Python's resolver).
    items = torch.arange(len(self.item_ids), device=)JIT" +
           weights + R"JIT(.device)
    return self.forward(torch.stack([torch.full_like(items, user), items], 1))
)JIT");
  return m;
}

void export_torchscript(const CollabModelImpl& model, const Vocabulary& users,
                        const Vocabulary& items, const std::string& config_json,
                        const std::string& path, const std::vector<std::string>& item_feature_names,
                        const UserFeatureModel* user_features,
                        const ItemFeatureModel* item_features) {
  const torch::jit::Module m = to_torchscript(model, users, items, config_json, item_feature_names,
                                              user_features, item_features);
  std::ostringstream bytes;
  try {
    m.save(bytes);
  } catch (const c10::Error& e) {
    throw Error("export: cannot serialise the module for " + path + ": " +
                e.what_without_backtrace());
  }
  write_file_atomically(path, bytes.str());
}

}  // namespace collab
