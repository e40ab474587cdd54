// Reading a compare config (compare.h): the shared data and eval sections, then each candidate
// as an ordinary run config, validated before anything trains.
#include <filesystem>

#include "collab/app/compare.h"
#include "collab/common/error.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

// Keys of `data` that choose a split: in a comparison eval.protocol or data.split does.
constexpr const char* kSplitKeys[] = {"train", "valid", "split_seed", "valid_pct"};

void override_keys(json& base, const json& overrides) {
  for (auto it = overrides.begin(); it != overrides.end(); ++it) base[it.key()] = it.value();
}

std::string file_stem(const std::string& path) {
  return fs::path(path).stem().string();
}

std::string replace_fold(const std::string& pattern, int64_t fold) {
  std::string out = pattern;
  for (size_t pos; (pos = out.find("{fold}")) != std::string::npos;) {
    out.replace(pos, 6, std::to_string(fold));
  }
  return out;
}

// The shared data section as given: an object without the keys that choose a split.
json read_shared_data(ConfigReader& root, const std::string& path) {
  json data = root.raw("data", json::object());
  if (!data.is_object()) root.fail("data", "expected an object, got " + describe(data));
  for (const char* key : kSplitKeys) {
    if (data.contains(key)) {
      throw Error(path + ": data." + std::string(key) +
                  ": a comparison's splits come from eval.protocol or data.split; remove this key");
    }
  }
  return data;
}

// Reads the shared data section into c.data. Predefined folds need no data.ratings: the section
// is read (by every candidate too) as a predefined split on fold 1's files, which is also what
// `collab train` needs to reproduce fold 1.
// With data.split the comparison's one split is the data section's own.
void resolve_shared_data(json& data, CompareConfig& c, const std::string& config_dir) {
  if (data.contains("split")) {
    ConfigReader data_reader(data, "data", &c.resolved["data"]);
    c.data = read_data_config(data_reader, config_dir);
    c.protocol = c.data.split;
    return;
  }
  if (c.protocol.kind == ProtocolKind::kPredefinedKFold) {
    if (data.contains("ratings")) {
      throw Error(c.path + ": data.ratings: not used by eval.protocol \"predefined_kfold\", " +
                  "which reads eval.train_pattern and eval.test_pattern; remove it");
    }
    data["train"] = replace_fold(c.protocol.train_pattern, 1);
    data["valid"] = replace_fold(c.protocol.test_pattern, 1);
  }
  ConfigReader data_reader(data, "data", &c.resolved["data"]);
  c.data = read_data_config(data_reader, config_dir);
  c.resolved["data"].erase("train");
  c.resolved["data"].erase("valid");
}

// The eval section; its protocol keys only without data.split, which gives the one split then.
void read_eval(ConfigReader& root, const json& data, CompareConfig& c) {
  ConfigReader eval = root.object("eval");
  if (!data.contains("split")) {
    c.protocol = read_protocol_config(eval);
  } else if (eval.has("protocol")) {
    eval.fail("protocol", "data.split already gives the split to compare on; give one of them");
  }
  c.ranking.k = eval.integer("k", 10, /*min=*/1);
  c.ranking.relevance_threshold = eval.number("relevance_threshold", 4.0);
  eval.finish();
}

// Candidate `i` as an ordinary run config: its file (if any), the shared data and train, its
// own overrides. Appends it to c.candidates and its resolved config to `resolved`.
void read_candidate(const json& entry_json, size_t i, const json& data, const json& shared_train,
                    const std::string& config_dir, CompareConfig& c, json& resolved) {
  const std::string where = "candidates[" + std::to_string(i) + "]";
  json entry_resolved = json::object();
  ConfigReader entry(entry_json, where, &entry_resolved);
  std::string name = entry.string("name", "");
  const std::string config_file = entry.string("config", "");
  const json model = entry.raw("model", json::object());
  const json train = entry.raw("train", json::object());
  entry.finish();
  if (!model.is_object()) entry.fail("model", "expected an object, got " + describe(model));
  if (!train.is_object()) entry.fail("train", "expected an object, got " + describe(train));

  json base_model = json::object(), base_train = json::object();
  if (!config_file.empty()) {
    const std::string file = resolve_path(config_file, config_dir, entry.path_of("config"));
    const json base = read_json_file(file);
    if (!base.is_object()) throw Error(file + ": expected a JSON object at the top level");
    base_model = base.value("model", json::object());
    base_train = base.value("train", json::object());
    if (name.empty()) name = file_stem(file);
  }
  override_keys(base_model, model);
  override_keys(base_train, shared_train);
  override_keys(base_train, train);
  if (name.empty()) name = base_model.value("arch", std::string());
  if (name.empty()) entry.fail("name", "missing; give a name, a model.arch or a config");
  for (const auto& other : c.candidates) {
    if (other.name == name) {
      entry.fail("name", "\"" + name + "\" names two candidates; names must be unique");
    }
  }
  const json run = {{"data", data}, {"model", base_model}, {"train", base_train}};
  CompareCandidate candidate;
  candidate.name = name;
  try {
    candidate.run = run_config_from_json(run, c.path, {});
  } catch (const Error& e) {
    throw Error(c.path + ": " + where + " \"" + name + "\": " + e.what());
  }
  json r = candidate.run.resolved;
  r.erase("checkpoint");  // compare writes no checkpoints
  resolved.push_back({{"name", name}, {"config", r}});
  c.candidates.push_back(std::move(candidate));
}

}  // namespace

CompareConfig load_compare_config(const std::string& path,
                                  const std::vector<std::string>& overrides) {
  json config = read_json_file(path);
  if (!config.is_object()) throw Error(path + ": expected a JSON object at the top level");
  for (const auto& o : overrides) apply_override(config, o);
  const std::string config_dir = fs::absolute(fs::path(path)).parent_path().string();

  CompareConfig c;
  c.path = path;
  c.resolved = json::object();
  ConfigReader root(config, "", &c.resolved);
  json data = read_shared_data(root, path);
  read_eval(root, data, c);
  resolve_shared_data(data, c, config_dir);
  const json shared_train = root.raw("train", json::object());
  if (!shared_train.is_object()) {
    root.fail("train", "expected an object, got " + describe(shared_train));
  }
  const json candidates = root.raw("candidates", json());
  if (!candidates.is_array() || candidates.empty()) {
    root.fail("candidates", "expected a non-empty array of candidates, got " +
                                describe(candidates.is_null() ? json("missing") : candidates));
  }
  if (root.has("blend")) {
    ConfigReader blend = root.object("blend");
    BlendOptions b;
    b.inner_valid_pct = blend.number("inner_valid_pct", b.inner_valid_pct,
                                     {0, 1, false, false, "a number in (0, 1)"});
    b.seed = static_cast<uint64_t>(blend.integer("seed", 42, /*min=*/0));
    b.ridge = blend.number("ridge", b.ridge, {0, 1e6, true, true, "a number in [0, 1e6]"});
    b.features = read_blend_features(blend);
    blend.finish();
    c.blend = b;
  }
  root.finish();
  json resolved_candidates = json::array();
  for (size_t i = 0; i < candidates.size(); ++i) {
    read_candidate(candidates[i], i, data, shared_train, config_dir, c, resolved_candidates);
  }
  c.resolved["candidates"] = resolved_candidates;
  return c;
}

}  // namespace collab
