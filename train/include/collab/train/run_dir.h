// The run directory a command writes into: the resolved config.json and metrics.jsonl (one JSON
// object per epoch). Files are replaced atomically so a crash never leaves half of one.
#pragma once

#include <string>

#include "collab/common/config_reader.h"

namespace collab {

// `requested`, or runs/<arch>-<YYYYmmdd-HHMMSS> when empty; created if missing.
std::string prepare_run_dir(const std::string& requested, const std::string& arch);

// Writes `value` to `path` through a temporary file in the same folder and a rename.
void write_json_atomically(const std::string& path, const json& value);

// Appends `value` as one line to `path` and flushes it.
void append_json_line(const std::string& path, const json& value);

}  // namespace collab
