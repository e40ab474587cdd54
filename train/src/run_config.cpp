#include "collab/train/run_config.h"

#include <filesystem>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"
#include "collab/data/ratings.h"
#include "collab/models/registry.h"

namespace collab {

namespace fs = std::filesystem;

json read_json_file(const std::string& path) {
  // A config is a few kilobytes; the bound stops a mistaken path (a ratings dump) early.
  return parse_json_text(read_file(path, /*max_bytes=*/64 << 20), path);
}

void apply_override(json& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw std::invalid_argument("--set expects KEY=VALUE (e.g. train.lr_max=1e-2), got " +
                                quoted_for_message(assignment));
  }
  // Command-line bytes need not be UTF-8 (a latin-1 terminal); the config is JSON, which must be,
  // or writing the resolved config into the run folder would fail after training started.
  if (!is_valid_utf8(assignment)) {
    throw std::invalid_argument("--set " + quoted_for_message(assignment) +
                                ": not valid UTF-8 (config keys and values are JSON text)");
  }
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  // JSON when it parses as JSON (numbers, arrays, objects), else the text as a string; deep or
  // duplicate-keyed JSON is refused, as in a config file.
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  value = value.is_discarded() ? json(text) : parse_json_text(text, "--set " + key);

  json* node = &config;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
    if (part.empty()) {
      throw std::invalid_argument("--set: empty part in key " + quoted_for_message(key));
    }
    if (!node->is_object()) {
      throw std::invalid_argument("--set " + quoted_for_message(key) + ": " +
                                  quoted_for_message(key.substr(0, start - 1)) +
                                  " is not an object in the config");
    }
    if (dot == std::string::npos) {
      (*node)[part] = value;
      return;
    }
    node = &(*node)[part];
    if (node->is_null()) *node = json::object();
    start = dot + 1;
  }
}

namespace {

// A model without a y_range of its own predicts on the data's rating scale when the data names
// one: on a half-star scale (0.5-5) sigmoid_range over [lo, hi] itself beat fastai's (0, 5.5) in
// every split measured (README, "model.y_range"). An explicit "y_range": null still means none.
void default_y_range_to_rating_range(json& model, const DataConfig& data) {
  const auto& range = data.format.rating_range;
  if (!range || !model.is_object() || model.contains("y_range")) return;
  model["y_range"] = json::array({range->first, range->second});
}

}  // namespace

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  return run_config_from_json(read_json_file(path), path, overrides);
}

RunConfig run_config_from_json(json config, const std::string& origin,
                               const std::vector<std::string>& overrides) {
  const std::string& path = origin;
  RunConfig run;
  run.path = path;
  if (!config.is_object()) throw Error(path + ": expected a JSON object at the top level");
  for (const auto& o : overrides) apply_override(config, o);

  const std::string config_dir = fs::absolute(fs::path(path)).parent_path().string();
  run.resolved = json::object();
  ConfigReader root(config, "", &run.resolved);
  ConfigReader data = root.object("data");
  run.data = read_data_config(data, config_dir);
  ConfigReader train = root.object("train");
  run.train = read_train_config(train);
  ConfigReader checkpoint = root.object("checkpoint");
  run.checkpoint = read_checkpoint_config(checkpoint);
  run.model = root.raw("model", json::object());
  default_y_range_to_rating_range(run.model, run.data);
  run.resolved.erase("model");
  ConfigReader model(run.model, "model", &run.resolved["model"]);
  build_model(model, ModelShape{1, 1});  // validates keys and values; fills in defaults
  root.finish();
  return run;
}

}  // namespace collab
