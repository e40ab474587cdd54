// `collab fit-items MODEL`: fits the new-item metadata model (genres and release decade -> item
// vector, infer/item_metadata_model.h) to a trained checkpoint and saves it beside it
// (serve/item_feature_fit.h), then prints the held-out check: the RMSE of held-out training
// items' ratings predicted from their catalogue entry against the mean item's. The item mirror of
// fit-users; the features come from the item catalogue the model's config names (data.items).
#include <cxxopts.hpp>
#include <iostream>
#include <stdexcept>
#include <string>

#include "collab/app/commands.h"
#include "collab/app/model_args.h"
#include "collab/common/config_reader.h"
#include "collab/serve/item_feature_fit.h"

namespace collab {

int fit_items_command(int argc, char** argv) {
  cxxopts::Options options("collab fit-items",
                           "Fit the new-item metadata model (genres, release decade -> item "
                           "vector) to a checkpoint: collab fit-items MODEL");
  options.positional_help("MODEL (a .ckpt file or a run dir: its latest checkpoint)");
  // clang-format off
  options.add_options()
      ("holdout", "fraction of the items the ridge strength is chosen on",
       cxxopts::value<double>()->default_value("0.2"))
      ("seed", "which items are held out", cxxopts::value<uint64_t>()->default_value("0"))
      ("json", "print the report as JSON");
  // clang-format on
  const ModelArgs parsed =
      parse_model_args(options, argc, argv, "fit-items", "collab fit-items MODEL");
  if (parsed.help) return 0;
  const cxxopts::ParseResult& result = parsed.result;
  MetadataOptions fit;
  fit.holdout_fraction = result["holdout"].as<double>();
  if (!(fit.holdout_fraction > 0 && fit.holdout_fraction < 1)) {
    throw std::invalid_argument("--holdout must be between 0 and 1 (exclusive)");
  }
  fit.seed = result["seed"].as<uint64_t>();
  const LoadedModel loaded = load_trained_model(parsed.model);
  const ItemFeatureFitResult out = fit_and_save_item_features(loaded, fit, std::cerr);
  const json& r = out.model.report;
  if (result.count("json")) {
    std::cout << json_text({{"path", out.path}, {"report", r}}) << "\n";
    return 0;
  }
  std::cout << "item feature model (" << out.model.columns.size() << " genre and decade columns -> "
            << out.model.bias.size(0) << "-d item vectors) saved to " << out.path << "\n"
            << "ridge " << r["ridge"].get<double>() << ", chosen on " << r["holdout_items"]
            << " held-out items (" << r["holdout_ratings"] << " training ratings): RMSE "
            << r["rmse_metadata"].get<double>() << " from genres and decade vs "
            << r["rmse_mean_item"].get<double>() << " for the mean item\n";
  return 0;
}

}  // namespace collab
