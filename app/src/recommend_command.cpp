// `collab recommend MODEL --user RAW_ID | --ratings "ITEM:RATING,..." | --all-users | --users
// FILE`: top-k items for a trained user (without the items they rated in training unless
// --include-seen), or for a new user folded in from a few ratings (infer/fold_in.h), or with no
// ratings at all a fallback ranking: items by learned bias, or the mean (representative) user;
// or every trained user's list (or FILE's users') as CSV / JSON Lines rows
// (recommendation_lists.h).
#include <algorithm>
#include <cmath>
#include <cxxopts.hpp>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/app/model_args.h"
#include "collab/app/model_source.h"
#include "collab/app/ranked_items.h"
#include "collab/app/recommendation_lists.h"
#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/text.h"
#include "collab/data/item_lookup.h"
#include "collab/models/layers.h"
#include "collab/infer/fold_in.h"
#include "collab/infer/top_k.h"
#include "collab/infer/user_scores.h"

namespace collab {

namespace {

struct GivenRating {
  int64_t item;
  float rating;
};

// "50:5,Star Wars (1977):4": entries split at commas, each at its last colon; items by raw id or
// title (titles with commas need their raw id).
std::vector<GivenRating> parse_given_ratings(const std::string& text, const Vocabulary& items) {
  std::vector<GivenRating> out;
  std::stringstream in(text);
  std::string entry;
  while (std::getline(in, entry, ',')) {
    const std::string e(trim(entry));
    if (e.empty()) continue;
    const auto colon = e.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == e.size()) {
      throw std::invalid_argument("--ratings: \"" + e + "\" is not ITEM:RATING");
    }
    const std::string item(trim(e.substr(0, colon))), value(trim(e.substr(colon + 1)));
    size_t used = 0;
    double rating = 0;
    try {
      rating = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != value.size() || !std::isfinite(rating)) {
      throw std::invalid_argument("--ratings: rating \"" + value + "\" of item \"" + item +
                                  "\" is not a number");
    }
    out.push_back({find_item(items, item), static_cast<float>(rating)});
  }
  return out;
}

// What recommend ranks, and how it says so.
struct Ranking {
  torch::Tensor scores;          // [n_items]; undefined when `top` is already ranked
  std::vector<int64_t> exclude;  // items left out of the ranking
  std::vector<ScoredItem> top;   // a trained user's list, ranked as --all-users ranks it
  std::string mode, description;
  json user = nullptr;  // the trained user's raw id, or null
};

// A trained user's list comes from the same blocked scorer and top-k as --all-users
// (infer/user_scores.h), so the two commands agree item for item.
Ranking rank_for_trained_user(const LoadedModel& loaded, const std::string& raw,
                              bool include_seen, int64_t k) {
  const auto user = loaded.users.find(raw);
  if (!user) {
    throw Error("user \"" + raw + "\" is not one of the model's " +
                std::to_string(loaded.users.size()) + " users (use --ratings for a new user)");
  }
  Ranking out;
  std::vector<std::vector<int64_t>> seen;
  if (!include_seen) {
    seen = load_training_ratings(loaded, std::cerr).items_by_user;
    out.exclude = seen[static_cast<size_t>(*user)];
  }
  top_k_for_users(UserScorer(*loaded.model, loaded.items.size()), {*user}, seen, k,
                  [&](std::vector<UserTopK>&& lists) { out.top = std::move(lists.front().items); });
  out.mode = "trained user";
  out.description = "user " + raw;
  out.user = raw;
  return out;
}

Ranking rank_for_folded_in_user(CollabModelImpl& model, const std::vector<GivenRating>& given,
                                double prior_weight, bool include_seen) {
  Ranking out;
  std::vector<int64_t> items;
  std::vector<float> ratings;
  for (const auto& g : given) {
    items.push_back(g.item);
    ratings.push_back(g.rating);
    if (!include_seen) out.exclude.push_back(g.item);
  }
  FoldInOptions fold;
  fold.prior_weight = prior_weight;
  if (fold.prior_weight < 0) throw std::invalid_argument("--prior-weight must be >= 0");
  torch::Tensor w;
  {
    // CollabNN's fold-in takes gradient steps: it needs autograd back.
    torch::AutoGradMode grad(true);
    w = fold_in_user(model, items, ratings, fold);
  }
  out.scores = model.score_items(w);
  out.mode = "fold-in";
  out.description = "a new user folded in from " + std::to_string(given.size()) + " rating(s)";
  return out;
}

// A new user with no ratings: `fallback` "bias" (the default when the model has an item bias)
// or "mean-user".
Ranking rank_without_ratings(CollabModelImpl& model, const std::optional<std::string>& fallback) {
  const bool has_bias = model.learned_item_bias().has_value();
  const std::string mode = fallback ? *fallback : (has_bias ? "bias" : "mean-user");
  const torch::Tensor mean_user = model.user_vectors().mean(0);
  Ranking out;
  if (mode == "bias") {
    // The biases alone: the mean user's bias (where there is one) and no factors. Its ranking is
    // the items' bias order whatever the user part is.
    const auto r = model.bias_ratings(mean_user);
    if (!r) {
      throw Error("--fallback bias: " + model.arch() +
                  " has no item bias (use --fallback mean-user)");
    }
    out.scores = sigmoid_range(*r, model.y_range());
    out.mode = "fallback: item bias";
    out.description = "a new user with no ratings (items ranked by learned bias)";
  } else if (mode == "mean-user") {
    out.scores = model.score_items(mean_user);
    out.mode = "fallback: mean user";
    out.description = "a new user with no ratings (the mean trained user's predictions)";
  } else {
    throw std::invalid_argument("--fallback must be \"bias\" or \"mean-user\", not \"" + mode +
                                "\"");
  }
  return out;
}

void print_ranking(const LoadedModel& loaded, const Ranking& ranking, int64_t k, bool as_json) {
  const std::string arch = loaded.model->arch();
  const auto top =
      ranking.scores.defined() ? top_k(ranking.scores, k, ranking.exclude) : ranking.top;
  if (as_json) {
    json items = json::array();
    for (size_t r = 0; r < top.size(); ++r) {
      items.push_back({{"rank", r + 1},
                       {"item", loaded.items.raw(top[r].item)},
                       {"title", loaded.items.title(top[r].item)},
                       {"score", top[r].score}});
    }
    const json out = {{"model", loaded.path},
                      {"arch", arch},
                      {"user", ranking.user},
                      {"mode", ranking.mode},
                      {"excluded", ranking.exclude.size()},
                      {"items", items}};
    std::cout << json_text(out) << "\n";
    return;
  }
  std::cout << ranking.description << ": top " << top.size() << " of " << loaded.items.size()
            << " items by predicted rating (" << arch << ", " << ranking.mode;
  if (!ranking.exclude.empty()) {
    std::cout << "; " << ranking.exclude.size() << " rated items left out";
  }
  std::cout << ")\n";
  print_ranked_items(std::cout, top, loaded.items, "rating");
}

// --all-users or --users FILE, checked against the options that go with one user.
bool many_users_asked(const cxxopts::ParseResult& result) {
  const bool many = result.count("all-users") || result.count("users");
  if (result.count("all-users") && result.count("users")) {
    throw std::invalid_argument("give --all-users or --users FILE, not both");
  }
  for (const char* single : {"user", "ratings", "json", "fallback"}) {
    if (many && result.count(single)) {
      throw std::invalid_argument(std::string("--") + single +
                                  " is for one user's list, not --all-users or --users" +
                                  (std::string(single) == "json" ? " (use --format jsonl)" : ""));
    }
  }
  for (const char* rows_only : {"format", "output"}) {
    if (!many && result.count(rows_only)) {
      throw std::invalid_argument(std::string("--") + rows_only +
                                  " goes with --all-users or --users FILE");
    }
  }
  return many;
}

int recommend_many(const std::string& model, const cxxopts::ParseResult& result, int64_t k,
                   bool include_seen) {
  ListsRequest request;
  request.format = parse_list_format(result["format"].as<std::string>());
  request.k = k;
  const std::string output = result.count("output") ? result["output"].as<std::string>() : "";
  if (!output.empty()) refuse_overwriting_input(output, model, "the model it reads");
  const LoadedModel loaded = load_trained_model(model);
  torch::NoGradGuard no_grad;
  if (result.count("users")) {
    request.users = read_user_list(result["users"].as<std::string>(), loaded.users);
  } else {
    for (int64_t u = 0; u < loaded.users.size(); ++u) request.users.push_back(u);
  }
  if (!include_seen) request.seen = load_training_ratings(loaded, std::cerr).items_by_user;
  return recommend_for_users(loaded, request, output);
}

}  // namespace

int recommend_command(int argc, char** argv) {
  cxxopts::Options options("collab recommend",
                           "Top-k items for a user of a trained model, for a new user from a few "
                           "ratings, or for every user: collab recommend MODEL --user RAW_ID "
                           "[-k 10] | --all-users [--format csv|jsonl] [--output FILE]");
  options.positional_help("MODEL (a .ckpt file, a run dir, or an exported model.pt)");
  // clang-format off
  options.add_options()
      ("user", "raw id of a user the model was trained on", cxxopts::value<std::string>())
      ("ratings", "a new user's ratings \"ITEM:RATING,...\" (ITEM: raw id or title) to fold in",
       cxxopts::value<std::string>())
      ("k", "how many items (0: all)", cxxopts::value<int64_t>()->default_value("10"))
      ("include-seen", "keep the items the user rated (in training, or in --ratings)")
      ("fallback", "with no ratings: \"bias\" (items by learned bias) or \"mean-user\" (the "
       "average user's predictions); default bias when the model has item biases",
       cxxopts::value<std::string>())
      ("prior-weight", "fold-in: pull towards the trained users' distribution",
       cxxopts::value<double>()->default_value("0.8"))
      ("json", "print JSON instead of a table")
      ("all-users", "every trained user's list, as rows user,rank,item,title,score")
      ("users", "the lists of the raw user ids in FILE, one a line", cxxopts::value<std::string>())
      ("format", "--all-users/--users rows: \"csv\" or \"jsonl\" (JSON Lines)",
       cxxopts::value<std::string>()->default_value("csv"))
      ("output", "--all-users/--users: write the rows to FILE (whole or not at all), not stdout",
       cxxopts::value<std::string>());
  // clang-format on
  const ModelArgs parsed =
      parse_model_args(options, argc, argv, "recommend", "collab recommend MODEL --user ID");
  if (parsed.help) return 0;
  const cxxopts::ParseResult& result = parsed.result;
  if (result.count("user") && result.count("ratings")) {
    throw std::invalid_argument("give --user (a trained user) or --ratings (a new user), not both");
  }
  const int64_t k = result["k"].as<int64_t>();
  if (k < 0) throw std::invalid_argument("-k must be >= 0 (0: all items)");
  const bool include_seen = result.count("include-seen") > 0;
  const bool as_json = result.count("json") > 0;

  if (many_users_asked(result)) return recommend_many(parsed.model, result, k, include_seen);

  const LoadedModel loaded = load_trained_model(parsed.model);
  torch::NoGradGuard no_grad;
  Ranking ranking;
  if (result.count("user")) {
    ranking = rank_for_trained_user(loaded, result["user"].as<std::string>(), include_seen, k);
  } else {
    const auto given = result.count("ratings")
                           ? parse_given_ratings(result["ratings"].as<std::string>(), loaded.items)
                           : std::vector<GivenRating>();
    if (!given.empty()) {
      ranking = rank_for_folded_in_user(*loaded.model, given, result["prior-weight"].as<double>(),
                                        include_seen);
    } else {
      const auto fallback = result.count("fallback")
                                ? std::optional<std::string>(result["fallback"].as<std::string>())
                                : std::nullopt;
      ranking = rank_without_ratings(*loaded.model, fallback);
      if (!as_json) std::cerr << "no ratings given: " << ranking.description << "\n";
    }
  }
  print_ranking(loaded, ranking, k, as_json);
  return 0;
}

}  // namespace collab
