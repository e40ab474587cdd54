// `collab similar MODEL --item RAW_ID|"TITLE" [-k 10]`: the items nearest to one item by cosine
// similarity of the item factors (train/neighbours.h), the seed's "movies like Silence of the
// Lambs". Items rated fewer than --min-ratings times in training are left out of the
// neighbours: their factors barely moved from their random start, and cosine, blind to a
// vector's length, would rank that noise beside well-learned items.
#include <cxxopts.hpp>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/app/model_args.h"
#include "collab/app/model_source.h"
#include "collab/common/error.h"
#include "collab/data/item_lookup.h"
#include "collab/models/user_side.h"
#include "collab/train/neighbours.h"

namespace collab {

int similar_command(int argc, char** argv) {
  cxxopts::Options options("collab similar",
                           "Items nearest to an item by cosine similarity of the item factors: "
                           "collab similar MODEL --item RAW_ID|TITLE [-k 10]");
  options.positional_help("MODEL (a .ckpt file, a run dir, or an exported model.pt)");
  // clang-format off
  options.add_options()
      ("item", "raw id, title, or unambiguous case-insensitive title prefix",
       cxxopts::value<std::string>())
      ("k", "how many neighbours (0: all)", cxxopts::value<int64_t>()->default_value("10"))
      ("min-ratings", "leave out neighbours with fewer training ratings (0: keep all)",
       cxxopts::value<int64_t>()->default_value("10"))
      ("json", "print JSON instead of a table");
  // clang-format on
  const ModelArgs parsed =
      parse_model_args(options, argc, argv, "similar", "collab similar MODEL --item ITEM");
  if (parsed.help) return 0;
  const cxxopts::ParseResult& result = parsed.result;
  if (!result.count("item")) throw std::invalid_argument("need --item RAW_ID or --item TITLE");
  const int64_t k = result["k"].as<int64_t>();
  if (k < 0) throw std::invalid_argument("-k must be >= 0 (0: all items)");

  const LoadedModel loaded = load_trained_model(parsed.model);
  const int64_t item = find_item(loaded.items, result["item"].as<std::string>());
  const int64_t min_ratings = result["min-ratings"].as<int64_t>();
  std::vector<int64_t> exclude = {item};
  if (min_ratings > 0) {
    try {
      const auto counts = load_training_ratings(loaded, std::cerr).item_counts;
      for (int64_t i = 0; i < loaded.items.size(); ++i) {
        if (counts[static_cast<size_t>(i)] < min_ratings) exclude.push_back(i);
      }
    } catch (const Error& e) {
      // The counts need the training data; without it the neighbours are still well defined.
      if (result.count("min-ratings")) throw;
      std::cerr << "warning: " << e.what() << "; neighbours include rarely-rated items\n";
    }
  }
  const auto neighbours = top_k(cosine_similarities(item_factors(*loaded.model), item), k, exclude);

  if (result.count("json")) {
    json items = json::array();
    for (size_t r = 0; r < neighbours.size(); ++r) {
      items.push_back({{"rank", r + 1},
                       {"item", loaded.items.raw(neighbours[r].item)},
                       {"title", loaded.items.title(neighbours[r].item)},
                       {"cosine", neighbours[r].score}});
    }
    std::cout << json{{"model", loaded.path},           {"arch", loaded.model->arch()},
                      {"item", loaded.items.raw(item)}, {"title", loaded.items.title(item)},
                      {"min_ratings", min_ratings},     {"neighbours", items}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << "items nearest to \"" << loaded.items.title(item) << "\" (" << loaded.items.raw(item)
            << ") by cosine similarity of the item factors (" << loaded.model->arch();
  if (min_ratings > 0) std::cout << "; items with " << min_ratings << "+ training ratings";
  std::cout << ")\n";
  size_t id_width = 4;
  for (const auto& n : neighbours) id_width = std::max(id_width, loaded.items.raw(n.item).size());
  std::cout << "rank  " << std::left << std::setw(static_cast<int>(id_width)) << "item"
            << "  cosine  title\n";
  for (size_t r = 0; r < neighbours.size(); ++r) {
    std::ostringstream cosine;
    cosine << std::fixed << std::setprecision(3) << neighbours[r].score;
    std::cout << std::right << std::setw(4) << r + 1 << "  " << std::left
              << std::setw(static_cast<int>(id_width)) << loaded.items.raw(neighbours[r].item)
              << "  " << std::right << std::setw(6) << cosine.str() << "  "
              << loaded.items.title(neighbours[r].item) << "\n";
  }
  return 0;
}

}  // namespace collab
