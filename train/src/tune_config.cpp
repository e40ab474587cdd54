// Reading a `collab tune` config (train/tune.h).
#include <filesystem>

#include "collab/common/error.h"
#include "collab/train/epoch_monitor.h"
#include "collab/train/run_config.h"
#include "collab/train/tune.h"

namespace collab {

namespace fs = std::filesystem;

namespace {

// The base config: a file named relative to the tune config's folder, or the config itself.
void read_base(ConfigReader& r, const std::string& tune_path, TuneConfig& c) {
  if (!r.has("base")) r.fail("base", "missing; name the config to tune (a file) or give it inline");
  const json base = r.raw("base", json());
  if (base.is_string()) {
    fs::path file(base.get<std::string>());
    if (file.is_relative()) file = fs::absolute(tune_path).parent_path() / file;
    c.base_path = file.lexically_normal().string();
    c.base = read_json_file(c.base_path);
  } else if (base.is_object()) {
    c.base_path = fs::absolute(tune_path).string();
    c.base = base;
  } else {
    r.fail("base", "expected a config file's name or a config object, got " + describe(base));
  }
  // tune.json holds the base itself, so that a changed base file is noticed on a resume.
  r.set_resolved("base", c.base);
}

}  // namespace

namespace {

TuneConfig read_tune_config(const json& root, const std::string& path) {
  TuneConfig c;
  c.resolved = json::object();
  ConfigReader r(root, "", &c.resolved);
  read_base(r, path, c);
  c.metric = r.choice("metric", {"valid_mse", "valid_rmse", "valid_mae"}, c.metric);
  c.search = r.choice("search", {"random", "grid", "halving"}, c.search);
  c.trials = r.integer("trials", c.trials, /*min=*/c.search == "grid" ? 0 : 1, /*max=*/100000);
  c.minutes = r.number("minutes", c.minutes, NumberRange::non_negative());
  c.seed = static_cast<uint64_t>(r.integer("seed", static_cast<int64_t>(c.seed), /*min=*/0));
  c.inner_valid_pct =
      r.number("inner_valid_pct", c.inner_valid_pct, {0, 1, false, false, "a number in (0, 1)"});
  c.final = r.boolean("final", c.final);
  if (c.search == "halving" || r.has("halving")) {
    ConfigReader h = r.object("halving");
    c.min_epochs = h.integer("min_epochs", c.min_epochs, /*min=*/1);
    c.eta = h.integer("eta", c.eta, /*min=*/2, /*max=*/100);
    h.finish();
  }
  if (r.has("blend")) {
    ConfigReader b = r.object("blend");
    TuneBlendConfig blend;
    blend.max_models = b.integer("max_models", blend.max_models, /*min=*/1, /*max=*/1000);
    blend.ridge = b.number("ridge", blend.ridge, {0, 1e6, true, true, "a number in [0, 1e6]"});
    blend.features = read_blend_features(b);
    blend.cv_folds = b.integer("cv_folds", blend.cv_folds, /*min=*/2, /*max=*/100);
    blend.min_gain = b.number("min_gain", blend.min_gain, NumberRange::non_negative());
    b.finish();
    c.blend = blend;
  }
  if (!r.has("space")) r.fail("space", "missing; name the config keys to search");
  c.space.emplace(r.raw("space", json()), "space");
  r.finish();
  return c;
}

}  // namespace

TuneConfig load_tune_config(const std::string& path) {
  const json root = read_json_file(path);
  if (!root.is_object()) throw Error(path + ": expected a JSON object (a tune config)");
  try {
    return read_tune_config(root, path);
  } catch (const Error& e) {
    const std::string what = e.what();
    throw Error(what.rfind(path, 0) == 0 ? what : path + ": " + what);
  }
}

}  // namespace collab
