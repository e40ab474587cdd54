// The command-line shape shared by the commands that read a trained model (export, predict,
// recommend, similar, interpret): one positional MODEL plus the command's own options.
#pragma once

#include <string>

#include "collab/common/cli.h"

namespace collab {

struct ModelArgs {
  cxxopts::ParseResult result;
  std::string model;  // the one positional argument
  bool help = false;  // --help was given and printed: the command returns 0
};

// parse_command_line (common/cli.h) with one positional MODEL: adds --help and MODEL to
// `options` and parses; every mistake is std::invalid_argument in the wording all commands share
// (a missing MODEL shows `usage`).
ModelArgs parse_model_args(cxxopts::Options& options, int argc, char** argv,
                           const std::string& command, const std::string& usage);

}  // namespace collab
