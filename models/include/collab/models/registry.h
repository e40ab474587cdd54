// Builds a model from the config's `model` object by its `arch`. Adding an architecture is its
// module (NAME.h / NAME.cpp: the module with its views, see collab_model.h, and a `make_*`
// factory), listed in models/CMakeLists.txt, and one line (with its #include) in registry.cpp;
// nothing else in models/, train/ or app/ names architectures (README.md, "Adding an
// architecture").
#pragma once

#include <string>
#include <vector>

#include "collab/common/config_reader.h"
#include "collab/models/collab_model.h"

namespace collab {

// Reads `model.arch` and the architecture's own keys (rejecting unknown ones). Initialises
// parameters from torch's global generator: seed it first for a reproducible model.
CollabModel build_model(ConfigReader& model, const ModelShape& shape);

std::vector<std::string> architectures();

// build_model on the `model` section of a run's resolved `config` (a checkpoint's or an
// export's); throws collab::Error naming `source` when there is no such section.
CollabModel build_model_from_config(const json& config, const ModelShape& shape,
                                    const std::string& source);

}  // namespace collab
