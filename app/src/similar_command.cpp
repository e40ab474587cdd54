// `collab similar MODEL --item RAW_ID|"TITLE" [-k 10]`: the items nearest to one item by cosine
// similarity of the item factors (infer/neighbours.h), the seed's "movies like Silence of the
// Lambs". Items rated fewer than --min-ratings times in training are left out of the
// neighbours: their factors barely moved from their random start, and cosine, blind to a
// vector's length, would rank that noise beside well-learned items. The factors are centred
// first (the mean row of those neighbour candidates subtracted): see mean_row() in
// infer/neighbours.h.
// Item cold start: `--features "Thriller,Crime,1990s"` instead of --item asks for the items
// nearest to a new item that only has content features, whose vector a feature-based model
// (ContentBased, HybridDotProductBias) builds from them (CollabModelImpl::item_from_features),
// else the item metadata model fitted to the checkpoint (collab fit-items; serve/queries.h
// new_item_query).
#include <algorithm>
#include <cxxopts.hpp>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/app/model_args.h"
#include "collab/app/ranked_items.h"
#include "collab/common/error.h"
#include "collab/serve/model_source.h"
#include "collab/serve/queries.h"

namespace collab {

namespace {

// Training rating counts per item, for leaving rarely-rated neighbours out. Without the training
// data they are none (with a warning) unless --min-ratings was given (`required`).
std::vector<int64_t> training_item_counts(const LoadedModel& loaded, int64_t min_ratings,
                                          bool required) {
  if (min_ratings <= 0) return {};
  try {
    return load_training_ratings(loaded, std::cerr).item_counts;
  } catch (const Error& e) {
    // The counts need the training data; without it the neighbours are still well defined.
    if (required) throw;
    std::cerr << "warning: " << e.what() << "; neighbours include rarely-rated items\n";
  }
  return {};
}

void print_neighbours(const LoadedModel& loaded, const ItemQuery& query, int64_t min_ratings,
                      const std::vector<ScoredItem>& neighbours, bool as_json) {
  const Vocabulary& items = loaded.items;
  if (as_json) {
    json list = json::array();
    for (size_t r = 0; r < neighbours.size(); ++r) {
      list.push_back({{"rank", r + 1},
                      {"item", items.raw(neighbours[r].item)},
                      {"title", items.title(neighbours[r].item)},
                      {"cosine", neighbours[r].score}});
    }
    json out = {{"model", loaded.path},
                {"arch", loaded.model->arch()},
                {"min_ratings", min_ratings},
                {"neighbours", list}};
    if (query.item < 0) {
      out["features"] = query.features;
    } else {
      out["item"] = items.raw(query.item);
      out["title"] = items.title(query.item);
    }
    std::cout << json_text(out) << "\n";
    return;
  }
  if (query.item < 0) {
    std::cout << "items nearest to a new item with features \"" << query.features << "\"";
  } else {
    std::cout << "items nearest to \"" << items.title(query.item) << "\"";
    if (items.raw(query.item) != items.title(query.item)) {
      std::cout << " (" << items.raw(query.item) << ")";
    }
  }
  std::cout << " by cosine similarity of the centred item factors (" << loaded.model->arch();
  if (min_ratings > 0) std::cout << "; items with " << min_ratings << "+ training ratings";
  std::cout << ")\n";
  print_ranked_items(std::cout, neighbours, items, "cosine");
}

}  // namespace

int similar_command(int argc, char** argv) {
  cxxopts::Options options("collab similar",
                           "Items nearest to an item by cosine similarity of the item factors: "
                           "collab similar MODEL --item RAW_ID|TITLE [-k 10], or for a new item "
                           "collab similar MODEL --features \"Genre,...,1990s\"");
  options.positional_help("MODEL (a .ckpt file, a run dir, or an exported model.pt)");
  // clang-format off
  options.add_options()
      ("item", "raw id, title, or unambiguous case-insensitive title prefix",
       cxxopts::value<std::string>())
      ("features",
       "a new item's genres, decade or year (\"Thriller,Crime,1991\"), for a ContentBased or "
       "HybridDotProductBias model, or one collab fit-items fitted; instead of --item",
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
  const bool by_features = result.count("features") > 0;
  if (by_features == (result.count("item") > 0)) {
    throw std::invalid_argument("need exactly one of --item RAW_ID|TITLE and --features LIST");
  }
  const int64_t k = result["k"].as<int64_t>();
  if (k < 0) throw std::invalid_argument("-k must be >= 0 (0: all items)");

  const int64_t min_ratings = result["min-ratings"].as<int64_t>();
  if (min_ratings < 0) throw std::invalid_argument("--min-ratings must be >= 0 (0: keep all)");
  const LoadedModel loaded = load_trained_model(parsed.model);
  const ItemQuery query = by_features
                              ? new_item_query(loaded, result["features"].as<std::string>())
                              : trained_item_query(loaded, result["item"].as<std::string>());
  const auto counts = training_item_counts(loaded, min_ratings, result.count("min-ratings") > 0);
  const auto neighbours = similar_items(loaded, query, counts, min_ratings, k);
  print_neighbours(loaded, query, min_ratings, neighbours, result.count("json") > 0);
  return 0;
}

}  // namespace collab
