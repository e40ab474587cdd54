// The command-line shape shared by the commands that read a trained model (export, predict,
// recommend, similar, interpret): one positional MODEL plus the command's own options.
#pragma once

#include <string>

#include <cxxopts.hpp>

namespace collab {

struct ModelArgs {
  cxxopts::ParseResult result;
  std::string model;  // the one positional argument
  bool help = false;  // --help was given and printed: the command returns 0
};

// Adds --help and the positional MODEL to `options` and parses. cxxopts' errors, a missing MODEL
// (the message shows `usage`) and extra positionals become std::invalid_argument naming
// `command`.
ModelArgs parse_model_args(cxxopts::Options& options, int argc, char** argv,
                           const std::string& command, const std::string& usage);

}  // namespace collab
