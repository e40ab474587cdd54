#include "collab/models/registry.h"

#include "collab/common/error.h"
#include "collab/models/biases.h"
#include "collab/models/collab_nn.h"
#include "collab/models/content_based.h"
#include "collab/models/dot_product.h"
#include "collab/models/dot_product_bias.h"
#include "collab/models/feature_biases.h"
#include "collab/models/hybrid_dot_product_bias.h"
#include "collab/models/svd_pp.h"

namespace collab {

namespace {

using Factory = CollabModel (*)(ConfigReader&, const ModelShape&);

struct Entry {
  const char* arch;
  Factory make;
};

// One line per architecture.
// clang-format off
const Entry kArchitectures[] = {
    {"DotProduct", make_dot_product},
    {"DotProductBias", make_dot_product_bias},
    {"CollabNN", make_collab_nn},
    {"Biases", make_biases},
    {"ContentBased", make_content_based},
    {"HybridDotProductBias", make_hybrid_dot_product_bias},
    {"FeatureBiases", make_feature_biases},
    {"SVDpp", make_svd_pp},
};
// clang-format on

}  // namespace

std::vector<std::string> architectures() {
  std::vector<std::string> names;
  for (const auto& e : kArchitectures) names.emplace_back(e.arch);
  return names;
}

CollabModel build_model_from_config(const json& config, const ModelShape& shape,
                                    const std::string& source) {
  if (!config.is_object() || !config.contains("model") || !config["model"].is_object()) {
    throw Error(source + ": the model's config has no model section");
  }
  json section_json = config["model"];
  ConfigReader section(section_json, "model", nullptr);
  return build_model(section, shape);
}

CollabModel build_model(ConfigReader& model, const ModelShape& shape) {
  if (!model.has("arch")) {
    std::string list;
    for (const auto& a : architectures()) list += (list.empty() ? "\"" : ", \"") + a + "\"";
    model.fail("arch", "missing; expected one of " + list);
  }
  const std::string arch = model.choice("arch", architectures());
  for (const auto& e : kArchitectures) {
    if (arch == e.arch) {
      CollabModel built = e.make(model, shape);
      model.finish();
      return built;
    }
  }
  return nullptr;  // unreachable: choice() rejected unknown names
}

}  // namespace collab
