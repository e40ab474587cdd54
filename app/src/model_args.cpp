#include "collab/app/model_args.h"

#include "collab/common/cli.h"

namespace collab {

ModelArgs parse_model_args(cxxopts::Options& options, int argc, char** argv,
                           const std::string& command, const std::string& usage) {
  CommandLine line = parse_command_line(options, argc, argv, {command, usage, "MODEL", 1, 1, ""});
  ModelArgs args;
  args.result = std::move(line.options);
  args.help = line.help;
  if (!args.help) args.model = line.positionals[0];
  return args;
}

}  // namespace collab
