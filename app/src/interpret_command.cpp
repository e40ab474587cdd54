// `collab interpret MODEL [--top 10] [--plot pca.svg]`: reads what a model learned, as the seed's
// chapter does: the items with the lowest and highest learned bias (liked or disliked whoever
// rates them), and the strongest principal components of the item factors of the most-rated
// items, with the items at either end of each; optionally the map of two components as an SVG.
#include <algorithm>
#include <cxxopts.hpp>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/app/model_args.h"
#include "collab/serve/model_source.h"
#include "collab/common/error.h"
#include "collab/common/svg_plot.h"
#include "collab/train/checkpoint.h"
#include "collab/infer/pca.h"
#include "collab/infer/top_k.h"

namespace collab {

namespace {

std::string fixed3(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3) << std::showpos << v;
  return s.str();
}

json item_list(const std::vector<ScoredItem>& list, const Vocabulary& items, bool negate) {
  json out = json::array();
  for (const auto& s : list) {
    out.push_back({{"item", items.raw(s.item)},
                   {"title", items.title(s.item)},
                   {"value", negate ? -s.score : s.score}});
  }
  return out;
}

void print_list(const std::string& heading, const json& list) {
  std::cout << heading << "\n";
  for (const auto& e : list) {
    std::cout << "  " << std::setw(7) << fixed3(e["value"].get<double>()) << "  "
              << e["title"].get<std::string>() << "\n";
  }
}

// The items with the lowest and highest learned bias, or nulls without one.
void add_bias_lists(json& out, const CollabModelImpl& model, const Vocabulary& items, int64_t top) {
  if (const auto bias = model.learned_item_bias()) {
    out["lowest_bias"] = item_list(top_k(-*bias, top), items, /*negate=*/true);
    out["highest_bias"] = item_list(top_k(*bias, top), items, /*negate=*/false);
  } else {
    out["lowest_bias"] = out["highest_bias"] = nullptr;
  }
}

// The `n` most-rated items, most first: their factors are trained the most, and the seed
// restricts its PCA to them so that rarely-rated items (near their initial values) do not blur
// the map.
std::vector<int64_t> most_rated_items(const LoadedModel& loaded, int64_t n) {
  const TrainingRatings training = load_training_ratings(loaded, std::cerr);
  std::vector<int64_t> order(static_cast<size_t>(loaded.items.size()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return training.item_counts[static_cast<size_t>(a)] >
           training.item_counts[static_cast<size_t>(b)];
  });
  order.resize(static_cast<size_t>(std::min<int64_t>(n, loaded.items.size())));
  return order;
}

// Each component with its explained variance and the `top` items at either end; `order` maps
// the PCA's rows to items.
json component_lists(const PrincipalComponents& pca, const std::vector<int64_t>& order,
                     const Vocabulary& items, int64_t top) {
  json components = json::array();
  for (int64_t c = 0; c < pca.scores.size(1); ++c) {
    const torch::Tensor scores = pca.scores.select(1, c);
    auto to_items = [&](std::vector<ScoredItem> list) {
      for (auto& s : list) s.item = order[static_cast<size_t>(s.item)];
      return list;
    };
    components.push_back({{"component", c + 1},
                          {"explained_variance", pca.explained[c].item<double>()},
                          {"high", item_list(to_items(top_k(scores, top)), items, false)},
                          {"low", item_list(to_items(top_k(-scores, top)), items, true)}});
  }
  return components;
}

// The SVG map of components 1 and 2 with the first `plot_items` items of `order` labelled.
void write_plot(const std::string& plot, const std::string& arch, const PrincipalComponents& pca,
                const std::vector<int64_t>& order, const Vocabulary& items, int64_t plot_items) {
  if (pca.scores.size(1) < 2) throw Error("the item factors have one dimension: nothing to plot");
  std::vector<LabelledPoint> points;
  for (int64_t r = 0; r < std::min<int64_t>(plot_items, pca.scores.size(0)); ++r) {
    points.push_back({pca.scores[r][0].item<double>(), pca.scores[r][1].item<double>(),
                      items.title(order[static_cast<size_t>(r)])});
  }
  auto percent = [&](int64_t c) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << 100 * pca.explained[c].item<double>() << "%";
    return s.str();
  };
  ScatterText text;
  text.title = arch + ": item factors of the " + std::to_string(points.size()) +
               " most-rated items (PCA of " + std::to_string(order.size()) + ")";
  text.x_label = "component 1 (" + percent(0) + " of the variance)";
  text.y_label = "component 2 (" + percent(1) + " of the variance)";
  write_file_atomically(plot, svg_scatter(points, text));
}

void print_interpretation(const json& out, const std::string& arch, const std::string& path) {
  std::cout << arch << " from " << path << "\n\n";
  if (out["lowest_bias"].is_null()) {
    std::cout << arch << " has no item bias\n";
  } else {
    print_list("lowest item bias (disliked whoever rates them)", out["lowest_bias"]);
    print_list("highest item bias (liked whoever rates them)", out["highest_bias"]);
  }
  std::cout << "\nprincipal components of the item factors of the "
            << out["pca"]["items"].get<size_t>() << " most-rated items\n";
  for (const auto& c : out["pca"]["components"]) {
    std::ostringstream share;
    share << std::fixed << std::setprecision(1) << 100 * c["explained_variance"].get<double>();
    std::cout << "\ncomponent " << c["component"].get<int64_t>() << " (" << share.str()
              << "% of the variance)\n";
    print_list(" one end", c["high"]);
    print_list(" other end", c["low"]);
  }
  if (out.contains("plot")) std::cout << "\nplot: " << out["plot"].get<std::string>() << "\n";
}

}  // namespace

int interpret_command(int argc, char** argv) {
  cxxopts::Options options("collab interpret",
                           "What a model learned: lowest/highest item bias and the principal "
                           "components of the item factors: collab interpret MODEL [--plot F]");
  options.positional_help("MODEL (a .ckpt file, a run dir, or an exported model.pt)");
  // clang-format off
  options.add_options()
      ("top", "items listed at each end", cxxopts::value<int64_t>()->default_value("10"))
      ("pca-items", "PCA over the item factors of this many most-rated items",
       cxxopts::value<int64_t>()->default_value("1000"))
      ("plot", "write an SVG map of components 1 and 2 here", cxxopts::value<std::string>())
      ("plot-items", "points labelled in the plot (the most-rated items)",
       cxxopts::value<int64_t>()->default_value("50"))
      ("json", "print JSON instead of text");
  // clang-format on
  const ModelArgs parsed =
      parse_model_args(options, argc, argv, "interpret", "collab interpret MODEL");
  if (parsed.help) return 0;
  const cxxopts::ParseResult& result = parsed.result;
  const int64_t top = result["top"].as<int64_t>();
  const int64_t pca_items = result["pca-items"].as<int64_t>();
  const int64_t plot_items = result["plot-items"].as<int64_t>();
  if (top < 1 || pca_items < 2 || plot_items < 1) {
    throw std::invalid_argument("--top and --plot-items must be >= 1, --pca-items >= 2");
  }
  const bool as_json = result.count("json") > 0;

  const LoadedModel loaded = load_trained_model(parsed.model);
  const CollabModelImpl& model = *loaded.model;
  const Vocabulary& items = loaded.items;
  json out = {{"model", loaded.path}, {"arch", model.arch()}};
  add_bias_lists(out, model, items, top);

  const std::vector<int64_t> order = most_rated_items(loaded, pca_items);
  const torch::Tensor chosen = torch::tensor(order, torch::kLong);
  const PrincipalComponents pca =
      principal_components(model.item_factor_table().index_select(0, chosen), 3);
  out["pca"] = {{"items", order.size()}, {"components", component_lists(pca, order, items, top)}};

  if (result.count("plot")) {
    const std::string plot = result["plot"].as<std::string>();
    write_plot(plot, model.arch(), pca, order, items, plot_items);
    out["plot"] = plot;
  }

  if (as_json) {
    std::cout << json_text(out) << "\n";
    return 0;
  }
  print_interpretation(out, model.arch(), loaded.path);
  return 0;
}

}  // namespace collab
