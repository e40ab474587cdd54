#include "collab/app/model_args.h"

#include <iostream>
#include <stdexcept>
#include <vector>

namespace collab {

ModelArgs parse_model_args(cxxopts::Options& options, int argc, char** argv,
                           const std::string& command, const std::string& usage) {
  options.add_options()("h,help", "print this help")("model", "model",
                                                     cxxopts::value<std::vector<std::string>>());
  options.parse_positional({"model"});
  ModelArgs args;
  try {
    args.result = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    throw std::invalid_argument(std::string(e.what()) + " (see collab " + command + " --help)");
  }
  if (args.result.count("help")) {
    std::cout << options.help({""});
    args.help = true;
    return args;
  }
  const auto models = args.result.count("model")
                          ? args.result["model"].as<std::vector<std::string>>()
                          : std::vector<std::string>();
  if (models.empty()) throw std::invalid_argument("need a model: " + usage);
  if (models.size() > 1) throw std::invalid_argument("unexpected argument \"" + models[1] + "\"");
  args.model = models[0];
  return args;
}

}  // namespace collab
