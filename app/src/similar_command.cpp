// `collab similar MODEL --item RAW_ID|"TITLE" [-k 10]`: the items nearest to one item by cosine
// similarity of the item factors (infer/neighbours.h), the seed's "movies like Silence of the
// Lambs". Items rated fewer than --min-ratings times in training are left out of the
// neighbours: their factors barely moved from their random start, and cosine, blind to a
// vector's length, would rank that noise beside well-learned items. The factors are centred
// first (the mean row of those neighbour candidates subtracted): see mean_row() in
// infer/neighbours.h.
// Item cold start: `--features "Thriller,Crime,1990s"` instead of --item asks for the items
// nearest to a new item that only has content features, whose vector a feature-based model
// (ContentBased, HybridDotProductBias) builds from them (CollabModelImpl::item_from_features).
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
#include "collab/app/model_source.h"
#include "collab/app/ranked_items.h"
#include "collab/common/error.h"
#include "collab/data/item_features.h"
#include "collab/data/item_lookup.h"
#include "collab/infer/neighbours.h"

namespace collab {

namespace {

// The query: a trained item's factors, or a new item's built from its content features.
struct Query {
  torch::Tensor vector;
  int64_t item = -1;     // the trained item, or -1
  std::string features;  // the new item's --features, or ""
};

Query new_item_query(const LoadedModel& loaded, const std::string& spec) {
  const auto new_item =
      loaded.model->item_from_features(parse_item_features(spec, feature_schema(loaded)));
  if (!new_item) {
    throw Error("--features needs a model that reads item features into item factors; " +
                loaded.path + " is " + loaded.model->arch());
  }
  return {new_item->factors, -1, spec};
}

// The items rated fewer than `min_ratings` times in training. Without the training data they
// are none (with a warning) unless --min-ratings was given (`required`).
std::vector<int64_t> rarely_rated_items(const LoadedModel& loaded, int64_t min_ratings,
                                        bool required) {
  std::vector<int64_t> out;
  if (min_ratings <= 0) return out;
  try {
    const auto counts = load_training_ratings(loaded, std::cerr).item_counts;
    for (int64_t i = 0; i < loaded.items.size(); ++i) {
      if (counts[static_cast<size_t>(i)] < min_ratings) out.push_back(i);
    }
  } catch (const Error& e) {
    // The counts need the training data; without it the neighbours are still well defined.
    if (required) throw;
    std::cerr << "warning: " << e.what() << "; neighbours include rarely-rated items\n";
  }
  return out;
}

void print_neighbours(const LoadedModel& loaded, const Query& query, int64_t min_ratings,
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
       "HybridDotProductBias model; instead of --item", cxxopts::value<std::string>())
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

  const LoadedModel loaded = load_trained_model(parsed.model);
  const torch::Tensor factors = loaded.model->item_factor_table();
  Query query;
  std::vector<int64_t> exclude;
  if (by_features) {
    query = new_item_query(loaded, result["features"].as<std::string>());
  } else {
    query.item = find_item(loaded.items, result["item"].as<std::string>());
    query.vector = factors[query.item];
    exclude.push_back(query.item);
  }
  const int64_t min_ratings = result["min-ratings"].as<int64_t>();
  if (min_ratings < 0) throw std::invalid_argument("--min-ratings must be >= 0 (0: keep all)");
  for (const int64_t i : rarely_rated_items(loaded, min_ratings, result.count("min-ratings") > 0)) {
    exclude.push_back(i);
  }
  const auto neighbours = centred_nearest_items(factors, query.vector, exclude, k);
  print_neighbours(loaded, query, min_ratings, neighbours, result.count("json") > 0);
  return 0;
}

}  // namespace collab
