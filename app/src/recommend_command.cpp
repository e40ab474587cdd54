// `collab recommend MODEL --user RAW_ID | --ratings "ITEM:RATING,..." | --all-users | --users
// FILE`: top-k items for a trained user (without the items they rated anywhere in the run's data,
// training or validation, unless --include-seen), or for a new user folded in from a few ratings
// (infer/fold_in.h), or with no ratings at all a fallback ranking: items by learned bias, the mean
// user, or the representative user; or from their side information (--user-features: the
// metadata model of collab fit-users, also the fold-in's prior mean when --ratings come with it);
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
#include "collab/app/ranked_items.h"
#include "collab/app/recommendation_lists.h"
#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/infer/user_scores.h"
#include "collab/serve/model_source.h"
#include "collab/serve/queries.h"

namespace collab {

namespace {

void print_recommendations(const LoadedModel& loaded, const Recommendations& list,
                           const std::optional<std::string>& user, bool as_json) {
  const std::string arch = loaded.model->arch();
  std::vector<ScoredItem> shown = list.items;  // as reported: clipped to the rating range
  for (ScoredItem& s : shown) s.score = reported_rating(s.score, loaded.rating_range);
  if (as_json) {
    json items = json::array();
    for (size_t r = 0; r < list.items.size(); ++r) {
      items.push_back({{"rank", r + 1},
                       {"item", loaded.items.raw(list.items[r].item)},
                       {"title", loaded.items.title(list.items[r].item)},
                       {"score", shown[r].score},
                       {"raw_score", list.items[r].score}});
    }
    const json out = {{"model", loaded.path},
                      {"arch", arch},
                      {"user", user ? json(*user) : json(nullptr)},
                      {"mode", list.mode},
                      {"excluded", list.excluded},
                      {"items", items}};
    std::cout << json_text(out) << "\n";
    return;
  }
  std::cout << list.description << ": top " << list.items.size() << " of " << loaded.items.size()
            << " items by predicted rating (" << arch << ", " << list.mode;
  if (list.excluded > 0) std::cout << "; " << list.excluded << " rated items left out";
  std::cout << ")\n";
  print_ranked_items(std::cout, shown, loaded.items, "rating");
}

// --all-users or --users FILE, checked against the options that go with one user.
bool many_users_asked(const cxxopts::ParseResult& result) {
  const bool many = result.count("all-users") || result.count("users");
  if (result.count("all-users") && result.count("users")) {
    throw std::invalid_argument("give --all-users or --users FILE, not both");
  }
  for (const char* single : {"user", "ratings", "json", "fallback", "user-features"}) {
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
  if (!include_seen) request.seen = load_training_ratings(loaded, std::cerr).rated_by_user;
  request.rating_range = loaded.rating_range;
  return recommend_for_users(loaded, request, output);
}

// A user the model never saw: fold-in from --ratings (around the --user-features prediction
// when both are given), the metadata model's vector from --user-features alone, or a fallback.
Recommendations recommend_new_user(const LoadedModel& loaded, const cxxopts::ParseResult& result,
                                   int64_t k, bool include_seen, bool as_json) {
  const auto given = result.count("ratings")
                         ? parse_given_ratings(result["ratings"].as<std::string>(), loaded.items)
                         : std::vector<GivenRating>();
  torch::Tensor from_features;
  if (result.count("user-features")) {
    const auto& user_model = loaded.user_features;
    from_features = user_vector_from_features(
        user_model ? &*user_model : nullptr,
        parse_user_features(result["user-features"].as<std::string>(), "--user-features"),
        loaded.path, "--user-features");
  }
  if (!given.empty()) {
    return recommend_for_new_user(*loaded.model, given, result["prior-weight"].as<double>(),
                                  include_seen, k, from_features);
  }
  if (from_features.defined()) return recommend_from_features(*loaded.model, from_features, k);
  const auto fallback = result.count("fallback")
                            ? std::optional<std::string>(result["fallback"].as<std::string>())
                            : std::nullopt;
  Recommendations list = recommend_without_ratings(*loaded.model, fallback, k, &loaded.users);
  if (!as_json) std::cerr << "no ratings given: " << list.description << "\n";
  return list;
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
      ("include-seen", "keep the items the user rated (in the run's training or validation data, or in --ratings)")
      ("fallback", "with no ratings: \"bias\" (items by learned bias), \"mean-user\" (the "
       "average user's predictions) or \"representative\" (the trained user nearest the average); "
       "default bias when the model has item biases", cxxopts::value<std::string>())
      ("user-features", "a new user's side information \"age=25,gender=F,occupation=student,"
       "zip=55105\" or a JSON object: the metadata model's vector (collab fit-users), or with "
       "--ratings the fold-in's prior mean", cxxopts::value<std::string>())
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
  if (result.count("user") && (result.count("ratings") || result.count("user-features"))) {
    throw std::invalid_argument(
        "give --user (a trained user) or --ratings/--user-features (a new user), not both");
  }
  if (result.count("user-features") && result.count("fallback")) {
    throw std::invalid_argument("--fallback is for a new user without --user-features");
  }
  const int64_t k = result["k"].as<int64_t>();
  if (k < 0) throw std::invalid_argument("-k must be >= 0 (0: all items)");
  const bool include_seen = result.count("include-seen") > 0;
  const bool as_json = result.count("json") > 0;

  if (many_users_asked(result)) return recommend_many(parsed.model, result, k, include_seen);

  const LoadedModel loaded = load_trained_model(parsed.model);
  torch::NoGradGuard no_grad;
  Recommendations list;
  std::optional<std::string> user;
  if (result.count("user")) {
    user = result["user"].as<std::string>();
    std::vector<std::vector<int64_t>> seen;
    if (!include_seen) seen = load_training_ratings(loaded, std::cerr).rated_by_user;
    const UserScorer scorer(*loaded.model, loaded.items.size());
    list = recommend_for_trained_user(scorer, loaded.users, *user, seen, k);
  } else {
    list = recommend_new_user(loaded, result, k, include_seen, as_json);
  }
  print_recommendations(loaded, list, user, as_json);
  return 0;
}

}  // namespace collab
