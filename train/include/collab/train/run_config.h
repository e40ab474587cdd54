// A run's whole config: the JSON file with command-line `--set` overrides applied, read strictly
// into each layer's section (data, model, train, checkpoint), and the resolved JSON with every
// default filled in and every path absolute, as written into the run directory and into each
// checkpoint (from which `collab resume` reads it back).
#pragma once

#include <string>
#include <vector>

#include "collab/common/config_reader.h"
#include "collab/data/data_config.h"
#include "collab/train/checkpoint_config.h"
#include "collab/train/train_config.h"

namespace collab {

struct RunConfig {
  std::string path;  // the config file
  json model;        // the `model` section as given; the registry reads it once shapes are known
  DataConfig data;
  TrainConfig train;
  CheckpointConfig checkpoint;
  json resolved;
};

// Applies one `a.b.c=value` override; `value` is read as JSON when it parses, else as a string
// (so --set train.device=cuda and --set train.lr_max=1e-2 both work).
void apply_override(json& config, const std::string& assignment);

// Reads and validates everything (the model section against a 1x1 stand-in of the data's
// shape), so that a typo fails before any data is read. Throws collab::Error.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides);

// The same from a config already in memory (a checkpoint's resolved config); `origin` names it in
// error messages and relative paths resolve against its folder.
RunConfig run_config_from_json(json config, const std::string& origin,
                               const std::vector<std::string>& overrides);

// Reads a JSON file (parse_json_text, common/config_reader.h), at most 64 MiB.
json read_json_file(const std::string& path);

}  // namespace collab
