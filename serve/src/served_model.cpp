#include "collab/serve/served_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <optional>
#include <sstream>

#include "collab/common/error.h"
#include "collab/common/utf8.h"
#include "collab/data/item_features.h"
#include "collab/data/item_lookup.h"
#include "collab/infer/pca.h"
#include "collab/infer/top_k.h"
#include "collab/serve/queries.h"

namespace collab {

namespace {

// Items on the PCA map: the most-rated ones, whose factors training moved the most (as
// `collab interpret` does).
constexpr int64_t kMapItems = 500;

RequestError bad(const std::string& field, const std::string& message) {
  return RequestError(400, field, message);
}

// An integer field, given as a JSON number or (query parameters) a decimal string.
std::optional<int64_t> int_field(const json& request, const std::string& field) {
  if (!request.contains(field) || request[field].is_null()) return std::nullopt;
  const json& v = request[field];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string text = v.get<std::string>();
    size_t used = 0;
    try {
      const long long n = std::stoll(text, &used);
      if (used == text.size()) return n;
    } catch (const std::exception&) {
    }
  }
  throw bad(field, "\"" + field + "\" must be an integer, not " + quoted_for_message(v.dump(), 40));
}

std::optional<double> number_field(const json& request, const std::string& field) {
  if (!request.contains(field) || request[field].is_null()) return std::nullopt;
  const json& v = request[field];
  double x = std::nan("");
  if (v.is_number()) x = v.get<double>();
  if (v.is_string()) {
    try {
      size_t used = 0;
      x = std::stod(v.get<std::string>(), &used);
      if (used != v.get<std::string>().size()) x = std::nan("");
    } catch (const std::exception&) {
    }
  }
  if (!std::isfinite(x)) {
    throw bad(field,
              "\"" + field + "\" must be a finite number, not " + quoted_for_message(v.dump(), 40));
  }
  return x;
}

// A user or item id: a JSON string, or a number written as its raw id.
std::optional<std::string> id_field(const json& request, const std::string& field) {
  if (!request.contains(field) || request[field].is_null()) return std::nullopt;
  const json& v = request[field];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  throw bad(field,
            "\"" + field + "\" must be a string id, not " + quoted_for_message(v.dump(), 40));
}

bool bool_field(const json& request, const std::string& field) {
  if (!request.contains(field) || request[field].is_null()) return false;
  const json& v = request[field];
  if (v.is_boolean()) return v.get<bool>();
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw bad(field, "\"" + field + "\" must be true or false");
}

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

json make_item_map(const LoadedModel& loaded, const TrainingRatings& training) {
  const int64_t n_items = loaded.items.size();
  std::vector<int64_t> order(static_cast<size_t>(n_items));
  std::iota(order.begin(), order.end(), 0);
  if (!training.item_counts.empty()) {
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return training.item_counts[static_cast<size_t>(a)] >
             training.item_counts[static_cast<size_t>(b)];
    });
  }
  order.resize(static_cast<size_t>(std::min(kMapItems, n_items)));
  const torch::Tensor factors = loaded.model->item_factor_table();
  if (order.size() < 3 || factors.size(1) < 2) return {{"points", json::array()}};
  const auto pca = principal_components(factors.index_select(0, torch::tensor(order)), 2);
  const torch::Tensor scores = pca.scores.to(torch::kDouble).contiguous();
  json points = json::array();
  for (size_t r = 0; r < order.size(); ++r) {
    const int64_t i = order[r];
    points.push_back({{"item", loaded.items.raw(i)},
                      {"title", loaded.items.title(i)},
                      {"x", scores[static_cast<int64_t>(r)][0].item<double>()},
                      {"y", scores[static_cast<int64_t>(r)][1].item<double>()},
                      {"ratings", training.item_counts.empty()
                                      ? json(nullptr)
                                      : json(training.item_counts[static_cast<size_t>(i)])}});
  }
  json explained = json::array();
  for (int64_t c = 0; c < pca.explained.size(0); ++c) {
    explained.push_back(pca.explained[c].item<double>());
  }
  return {{"points", points}, {"explained", explained}};
}

}  // namespace

ServedModel::ServedModel(const std::string& path, RequestLimits limits, std::ostream& log)
    : loaded_(load_trained_model(path)), limits_(limits) {
  try {
    training_ = load_training_ratings(loaded_, log);
  } catch (const Error& e) {
    log << "warning: " << e.what()
        << "; serving without it: nothing is left out of recommendations as rated\n";
  }
  ratings_by_user_.resize(static_cast<size_t>(loaded_.users.size()));
  for (size_t r = 0; r < training_.users.size(); ++r) {
    ratings_by_user_[static_cast<size_t>(training_.users[r])].emplace_back(training_.ratings[r],
                                                                           training_.items[r]);
  }
  for (auto& rated : ratings_by_user_) {
    std::stable_sort(rated.begin(), rated.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
  }
  for (int64_t i = 0; i < loaded_.items.size(); ++i) {
    lower_titles_.push_back(lower_ascii(loaded_.items.title(i)));
  }
  torch::NoGradGuard no_grad;
  scorer_ = std::make_unique<UserScorer>(*loaded_.model, loaded_.items.size());
  item_map_ = make_item_map(loaded_, training_);
}

json ServedModel::info() const {
  const auto& model = *loaded_.model;
  int64_t parameters = 0;
  for (const auto& p : model.parameters()) parameters += p.numel();
  json y_range = nullptr;
  if (const auto r = model.y_range()) y_range = {r->lo, r->hi};
  return {{"model", loaded_.path},
          {"arch", model.arch()},
          {"n_users", loaded_.users.size()},
          {"n_items", loaded_.items.size()},
          {"parameters", parameters},
          {"item_features",
           model.uses_item_features() ? json(feature_schema(loaded_).names()) : json(nullptr)},
          {"y_range", y_range},
          {"user_features",
           loaded_.user_features ? json(loaded_.user_features->columns) : json(nullptr)},
          {"training_ratings", training_.users.size()},
          {"limits",
           {{"max_k", limits_.max_k},
            {"max_pairs", limits_.max_pairs},
            {"max_ratings", limits_.max_ratings}}},
          {"config", loaded_.config}};
}

int64_t ServedModel::user_index(const std::string& raw, const std::string& field) const {
  const auto u = loaded_.users.find(raw);
  if (!u) {
    throw RequestError(404, field,
                       "user " + quoted_for_message(raw) + " is not one of the model's " +
                           std::to_string(loaded_.users.size()) + " users");
  }
  return *u;
}

int64_t ServedModel::item_index(const std::string& query, const std::string& field) const {
  try {
    return find_item(loaded_.items, query);
  } catch (const Error& e) {
    throw RequestError(404, field, e.what());
  }
}

int64_t ServedModel::list_size(const json& request) const {
  const int64_t k = int_field(request, "k").value_or(10);
  if (k < 1 || k > limits_.max_k) {
    throw bad("k", "\"k\" must be between 1 and " + std::to_string(limits_.max_k) + ", not " +
                       std::to_string(k));
  }
  return k;
}

json ServedModel::ranked_items(const std::vector<ScoredItem>& items, const char* score_name,
                               bool ratings) const {
  json out = json::array();
  for (size_t r = 0; r < items.size(); ++r) {
    const double score = items[r].score;
    json row = {{"rank", r + 1},
                {"item", loaded_.items.raw(items[r].item)},
                {"title", loaded_.items.title(items[r].item)},
                {score_name, ratings ? reported_rating(score, loaded_.rating_range) : score}};
    if (ratings) row["raw_score"] = score;
    out.push_back(std::move(row));
  }
  return out;
}

// The vector the metadata model predicts from the request's "user_features" object (undefined
// when there is none).
torch::Tensor ServedModel::features_vector(const json& request) const {
  if (!request.contains("user_features") || request["user_features"].is_null()) return {};
  const json& features = request["user_features"];
  if (!features.is_object()) {
    throw bad("user_features",
              "\"user_features\" must be an object such as {\"age\": 25, \"gender\": \"F\"}");
  }
  try {
    const auto& user_model = loaded_.user_features;
    return user_vector_from_features(user_model ? &*user_model : nullptr,
                                     parse_user_features(features.dump(), "user_features"),
                                     "the served model", "user_features");
  } catch (const Error& e) {
    throw bad("user_features", e.what());
  }
}

json ServedModel::recommend(const json& request) const {
  if (!request.is_object()) throw bad("", "the request body must be a JSON object");
  const int64_t k = list_size(request);
  const bool include_seen = bool_field(request, "include_seen");
  torch::NoGradGuard no_grad;
  Recommendations list;
  json user = nullptr;
  if (const auto raw = id_field(request, "user")) {
    if (request.contains("ratings")) throw bad("ratings", "give \"user\" or \"ratings\", not both");
    if (request.contains("user_features")) {
      throw bad("user_features", "give \"user\" or \"user_features\", not both");
    }
    user_index(*raw, "user");
    static const std::vector<std::vector<int64_t>> none;
    list = recommend_for_trained_user(*scorer_, loaded_.users, *raw,
                                      include_seen ? none : training_.rated_by_user, k);
    user = *raw;
  } else {
    std::vector<GivenRating> given;
    if (request.contains("ratings") && !request["ratings"].is_null()) {
      const json& ratings = request["ratings"];
      if (!ratings.is_array()) {
        throw bad("ratings", "\"ratings\" must be an array of {\"item\": ID, \"rating\": R}");
      }
      if (static_cast<int64_t>(ratings.size()) > limits_.max_ratings) {
        throw bad("ratings", "at most " + std::to_string(limits_.max_ratings) + " ratings");
      }
      for (size_t r = 0; r < ratings.size(); ++r) {
        const std::string at = "ratings[" + std::to_string(r) + "]";
        if (!ratings[r].is_object()) throw bad(at, at + " must be {\"item\": ID, \"rating\": R}");
        std::optional<std::string> item;
        std::optional<double> rating;
        try {
          item = id_field(ratings[r], "item");
          rating = number_field(ratings[r], "rating");
        } catch (const RequestError& e) {
          throw bad(at + "." + e.field, at + ": " + e.what());
        }
        if (!item) throw bad(at + ".item", at + " has no \"item\"");
        if (!rating) throw bad(at + ".rating", at + " has no \"rating\"");
        given.push_back({item_index(*item, at + ".item"), static_cast<float>(*rating)});
      }
    }
    const double prior = number_field(request, "prior_weight").value_or(0.8);
    if (prior < 0) throw bad("prior_weight", "\"prior_weight\" must be >= 0");
    const torch::Tensor from_features = features_vector(request);
    try {
      if (!given.empty()) {
        std::lock_guard<std::mutex> lock(fold_in_mutex_);
        list = recommend_for_new_user(*loaded_.model, given, prior, include_seen, k, from_features);
      } else if (from_features.defined()) {
        list = recommend_from_features(*loaded_.model, from_features, k);
      } else {
        std::optional<std::string> fallback;
        if (request.contains("fallback")) fallback = id_field(request, "fallback");
        list = recommend_without_ratings(*loaded_.model, fallback, k, &loaded_.users);
      }
    } catch (const std::invalid_argument& e) {
      throw bad("fallback", e.what());
    } catch (const Error& e) {
      throw bad("fallback", e.what());
    }
  }
  return {{"user", user},
          {"mode", list.mode},
          {"excluded", list.excluded},
          {"items", ranked_items(list.items, "score", /*ratings=*/true)}};
}

json ServedModel::similar(const json& request) const {
  if (!request.is_object()) throw bad("", "the request body must be a JSON object");
  const int64_t k = list_size(request);
  const int64_t min_ratings = int_field(request, "min_ratings").value_or(10);
  if (min_ratings < 0) throw bad("min_ratings", "\"min_ratings\" must be >= 0");
  const auto item = id_field(request, "item");
  const auto features = id_field(request, "features");
  if (item.has_value() == features.has_value()) {
    throw bad("item", "give exactly one of \"item\" (id or title) and \"features\"");
  }
  torch::NoGradGuard no_grad;
  ItemQuery query;
  if (item) {
    query = trained_item_query(loaded_, loaded_.items.raw(item_index(*item, "item")));
  } else {
    try {
      query = new_item_query(loaded_, *features);
    } catch (const Error& e) {
      throw bad("features", e.what());
    }
  }
  const auto neighbours = similar_items(loaded_, query, training_.item_counts, min_ratings, k);
  json out = {{"min_ratings", min_ratings}, {"items", ranked_items(neighbours, "cosine")}};
  if (item) {
    out["item"] = loaded_.items.raw(query.item);
    out["title"] = loaded_.items.title(query.item);
  } else {
    out["features"] = *features;
  }
  return out;
}

json ServedModel::predict(const json& request) const {
  if (!request.is_object() || !request.contains("pairs") || !request["pairs"].is_array()) {
    throw bad("pairs", "the body must be {\"pairs\": [{\"user\": ID, \"item\": ID}, ...]}");
  }
  const json& pairs = request["pairs"];
  if (static_cast<int64_t>(pairs.size()) > limits_.max_pairs) {
    throw bad("pairs", "at most " + std::to_string(limits_.max_pairs) + " pairs a request, not " +
                           std::to_string(pairs.size()));
  }
  json out = json::array();
  std::vector<int64_t> flat;
  std::vector<size_t> known;
  for (size_t r = 0; r < pairs.size(); ++r) {
    const std::string at = "pairs[" + std::to_string(r) + "]";
    if (!pairs[r].is_object()) throw bad(at, at + " must be {\"user\": ID, \"item\": ID}");
    const auto user = id_field(pairs[r], "user");
    const auto item = id_field(pairs[r], "item");
    if (!user || !item) throw bad(at, at + " needs \"user\" and \"item\"");
    json row = {{"user", *user}, {"item", *item}, {"score", nullptr}, {"raw_score", nullptr}};
    const auto u = loaded_.users.find(*user);
    const auto i = loaded_.items.find(*item);
    if (!u || !i) {
      row["error"] = !u ? "unknown user" : "unknown item";
    } else {
      known.push_back(r);
      flat.push_back(*u);
      flat.push_back(*i);
    }
    out.push_back(std::move(row));
  }
  const auto values = predict_pairs(*loaded_.model, std::move(flat));
  for (size_t k = 0; k < known.size(); ++k) {
    out[known[k]]["score"] = reported_rating(values[k], loaded_.rating_range);
    out[known[k]]["raw_score"] = values[k];
  }
  return {{"predictions", out}};
}

json ServedModel::search_items(const json& request) const {
  const std::string text = id_field(request, "q").value_or("");
  const int64_t limit = int_field(request, "limit").value_or(20);
  if (limit < 1 || limit > limits_.max_k) {
    throw bad("limit", "\"limit\" must be between 1 and " + std::to_string(limits_.max_k));
  }
  const std::string needle = lower_ascii(text);
  std::vector<int64_t> found;
  for (int64_t i = 0; i < loaded_.items.size(); ++i) {
    if (lower_titles_[static_cast<size_t>(i)].find(needle) != std::string::npos ||
        loaded_.items.raw(i) == text) {
      found.push_back(i);
    }
  }
  const auto count = [&](int64_t i) {
    return training_.item_counts.empty() ? 0 : training_.item_counts[static_cast<size_t>(i)];
  };
  std::stable_sort(found.begin(), found.end(),
                   [&](int64_t a, int64_t b) { return count(a) > count(b); });
  json items = json::array();
  for (size_t r = 0; r < found.size() && static_cast<int64_t>(r) < limit; ++r) {
    items.push_back({{"item", loaded_.items.raw(found[r])},
                     {"title", loaded_.items.title(found[r])},
                     {"ratings", count(found[r])}});
  }
  return {{"query", text}, {"matches", found.size()}, {"items", items}};
}

json ServedModel::user_ratings(const std::string& raw) const {
  const int64_t user = user_index(raw, "user");
  json items = json::array();
  for (const auto& [rating, item] : ratings_by_user_[static_cast<size_t>(user)]) {
    items.push_back({{"item", loaded_.items.raw(item)},
                     {"title", loaded_.items.title(item)},
                     {"rating", rating}});
  }
  return {{"user", raw}, {"ratings", items}};
}

json ServedModel::biases(const json& request) const {
  const int64_t top = int_field(request, "top").value_or(10);
  if (top < 1 || top > limits_.max_k) {
    throw bad("top", "\"top\" must be between 1 and " + std::to_string(limits_.max_k));
  }
  const auto bias = loaded_.model->learned_item_bias();
  if (!bias) return {{"lowest", nullptr}, {"highest", nullptr}};
  auto lowest = top_k(-*bias, top);
  for (auto& s : lowest) s.score = -s.score;
  return {{"lowest", ranked_items(lowest, "bias")},
          {"highest", ranked_items(top_k(*bias, top), "bias")}};
}

}  // namespace collab
