// `collab export CHECKPOINT -o model.pt`: rebuilds a checkpoint's model and writes it as a
// TorchScript module (models/export.h) that LibTorch and Python load without collab, with the
// new-user and new-item metadata models fitted to the checkpoint (collab fit-users, fit-items)
// where there are any.
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/common/cli.h"
#include "collab/common/error.h"
#include "collab/models/export.h"
#include "collab/models/registry.h"
#include "collab/train/checkpoint.h"
#include "collab/train/run_checkpoints.h"

namespace collab {

int export_command(int argc, char** argv) {
  cxxopts::Options options("collab export",
                           "Write a checkpoint's model as TorchScript for LibTorch or Python: "
                           "collab export CHECKPOINT -o model.pt");
  options.positional_help("CHECKPOINT (a .ckpt file, or a run dir: its latest checkpoint)");
  // clang-format off
  options.add_options()
      ("o,output", "the TorchScript file to write", cxxopts::value<std::string>())
      ("quiet", "no summary on stderr");
  // clang-format on
  const CommandLine line = parse_command_line(
      options, argc, argv, {"export", "collab export CHECKPOINT -o FILE", "CHECKPOINT", 1, 1, ""});
  if (line.help) return 0;
  const cxxopts::ParseResult& result = line.options;
  const std::vector<std::string>& args = line.positionals;
  if (!result.count("output")) {
    throw std::invalid_argument("need -o FILE, the TorchScript file to write");
  }
  const std::string output = result["output"].as<std::string>();
  const std::string path =
      std::filesystem::is_directory(args[0]) ? latest_checkpoint(args[0]) : args[0];

  refuse_overwriting_input(output, path, "the checkpoint it exports");
  const Checkpoint checkpoint = read_checkpoint(path);
  if (!checkpoint.config.is_object() || !checkpoint.config.contains("model") ||
      !checkpoint.config["model"].is_object()) {
    throw Error(path + ": the checkpoint's config has no model section");
  }
  // Errors about the model name the checkpoint: its config is where they come from.
  CollabModel model;
  try {
    ConfigReader section(checkpoint.config["model"], "model", nullptr);
    ModelShape shape(checkpoint.users.size(), checkpoint.items.size());
    shape.n_item_features = static_cast<int64_t>(checkpoint.item_feature_names.size());
    model = build_model(section, shape);
    load_model_state(*model, checkpoint.state);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  model->eval();
  // The metadata models fitted to this checkpoint (collab fit-users, fit-items) travel with it.
  auto fitted = [&](const FeatureModelSide& side) {
    std::optional<UserFeatureModel> out;
    const std::string file = feature_model_path(side, path);
    if (std::filesystem::exists(file)) out = read_feature_model(side, file);
    return out;
  };
  const std::optional<UserFeatureModel> user_features = fitted(kUserFeatureSide);
  const std::optional<ItemFeatureModel> item_features = fitted(kItemFeatureSide);
  export_torchscript(*model, checkpoint.users, checkpoint.items, checkpoint.config.dump(), output,
                     checkpoint.item_feature_names, user_features ? &*user_features : nullptr,
                     item_features ? &*item_features : nullptr);
  if (!result.count("quiet")) {
    std::cerr << "exported " << model->arch() << " (" << checkpoint.users.size() << " users, "
              << checkpoint.items.size() << " items) from " << path
              << (user_features ? ", with its user feature model" : "")
              << (item_features ? ", with its item feature model" : "") << "\n";
  }
  std::cout << output << "\n";
  return 0;
}

}  // namespace collab
