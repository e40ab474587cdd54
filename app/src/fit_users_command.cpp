// `collab fit-users MODEL --user-file u.user`: fits the new-user metadata model (side information
// -> user vector, infer/user_metadata_model.h) to a trained checkpoint and saves it beside it
// (serve/user_feature_fit.h), then prints the held-out check: the RMSE of held-out training
// users' ratings predicted from their side information against the mean user's.
#include <cxxopts.hpp>
#include <iostream>
#include <stdexcept>
#include <string>

#include "collab/app/commands.h"
#include "collab/app/model_args.h"
#include "collab/common/config_reader.h"
#include "collab/serve/user_feature_fit.h"

namespace collab {

int fit_users_command(int argc, char** argv) {
  cxxopts::Options options("collab fit-users",
                           "Fit the new-user metadata model (age, gender, occupation, zip -> user "
                           "vector) to a checkpoint: collab fit-users MODEL --user-file u.user");
  options.positional_help("MODEL (a .ckpt file or a run dir: its latest checkpoint)");
  // clang-format off
  options.add_options()
      ("user-file", "the users' side information (MovieLens u.user)", cxxopts::value<std::string>())
      ("holdout", "fraction of the users the ridge strength is chosen on",
       cxxopts::value<double>()->default_value("0.2"))
      ("seed", "which users are held out", cxxopts::value<uint64_t>()->default_value("0"))
      ("json", "print the report as JSON");
  // clang-format on
  const ModelArgs parsed = parse_model_args(options, argc, argv, "fit-users",
                                            "collab fit-users MODEL --user-file u.user");
  if (parsed.help) return 0;
  const cxxopts::ParseResult& result = parsed.result;
  UserMetadataOptions fit;
  fit.holdout_fraction = result["holdout"].as<double>();
  if (!(fit.holdout_fraction > 0 && fit.holdout_fraction < 1)) {
    throw std::invalid_argument("--holdout must be between 0 and 1 (exclusive)");
  }
  fit.seed = result["seed"].as<uint64_t>();
  const LoadedModel loaded = load_trained_model(parsed.model);
  // --user-file, else the one beside the model's data, as audit and cold-start find it.
  const std::string user_file =
      result.count("user-file")
          ? result["user-file"].as<std::string>()
          : default_user_file(run_config_from_json(loaded.config, loaded.path, {}).data);
  if (user_file.empty()) {
    throw std::invalid_argument(
        "need --user-file (no u.user or users.dat beside the model's data)");
  }
  const UserFeatureFitResult out = fit_and_save_user_features(loaded, user_file, fit, std::cerr);
  const json& r = out.model.report;
  if (result.count("json")) {
    std::cout << json_text({{"path", out.path}, {"report", r}}) << "\n";
    return 0;
  }
  std::cout << "user feature model (" << out.model.columns.size() << " one-hot columns -> "
            << out.model.bias.size(0) << "-d user vectors) saved to " << out.path << "\n"
            << "ridge " << r["ridge"].get<double>() << ", chosen on " << r["holdout_users"]
            << " held-out users (" << r["holdout_ratings"] << " training ratings): RMSE "
            << r["rmse_metadata"].get<double>() << " from side information vs "
            << r["rmse_mean_user"].get<double>() << " for the mean user\n";
  return 0;
}

}  // namespace collab
