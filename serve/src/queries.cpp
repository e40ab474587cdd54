#include "collab/serve/queries.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "collab/common/error.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"
#include "collab/data/item_features.h"
#include "collab/data/item_lookup.h"
#include "collab/infer/fold_in.h"
#include "collab/infer/neighbours.h"
#include "collab/models/layers.h"

namespace collab {

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

Recommendations recommend_for_trained_user(const UserScorer& scorer, const Vocabulary& users,
                                           const std::string& raw,
                                           const std::vector<std::vector<int64_t>>& seen,
                                           int64_t k) {
  const auto user = users.find(raw);
  if (!user) {
    throw Error("user " + quoted_for_message(raw) + " is not one of the model's " +
                std::to_string(users.size()) + " users (use --ratings for a new user)");
  }
  Recommendations out;
  if (!seen.empty()) out.excluded = static_cast<int64_t>(seen[static_cast<size_t>(*user)].size());
  top_k_for_users(scorer, {*user}, seen, k, [&](std::vector<UserTopK>&& lists) {
    out.items = std::move(lists.front().items);
  });
  out.mode = "trained user";
  out.description = "user " + raw;
  return out;
}

Recommendations recommend_for_new_user(CollabModelImpl& model,
                                       const std::vector<GivenRating>& given, double prior_weight,
                                       bool include_seen, int64_t k,
                                       const torch::Tensor& prior_mean) {
  if (prior_weight < 0 || !std::isfinite(prior_weight)) {
    throw std::invalid_argument("--prior-weight must be >= 0");
  }
  std::vector<int64_t> items, exclude;
  std::vector<float> ratings;
  for (const auto& g : given) {
    items.push_back(g.item);
    ratings.push_back(g.rating);
    if (!include_seen) exclude.push_back(g.item);
  }
  FoldInOptions fold;
  fold.prior_weight = prior_weight;
  fold.prior_mean = prior_mean;
  torch::Tensor w;
  {
    // CollabNN's fold-in takes gradient steps: it needs autograd back.
    torch::AutoGradMode grad(true);
    w = fold_in_user(model, items, ratings, fold);
  }
  Recommendations out;
  out.items = top_k(model.score_items(w), k, exclude);
  out.excluded = static_cast<int64_t>(exclude.size());
  out.mode = "fold-in";
  out.description = "a new user folded in from " + std::to_string(given.size()) + " rating(s)";
  if (prior_mean.defined()) {
    out.mode = "fold-in, metadata prior";
    out.description += " around their side information's prediction";
  }
  return out;
}

Recommendations recommend_without_ratings(CollabModelImpl& model,
                                          const std::optional<std::string>& fallback, int64_t k,
                                          const Vocabulary* users) {
  const bool has_bias = model.learned_item_bias().has_value();
  const std::string mode = fallback ? *fallback : (has_bias ? "bias" : "mean-user");
  const torch::Tensor mean_user = model.user_vectors().mean(0);
  Recommendations out;
  if (mode == "bias") {
    // The biases alone: the mean user's bias (where there is one) and no factors. Its ranking is
    // the items' bias order whatever the user part is.
    const auto r = model.bias_ratings(mean_user);
    if (!r) {
      throw Error("--fallback bias: " + model.arch() +
                  " has no item bias (use --fallback mean-user)");
    }
    out.items = top_k(sigmoid_range(*r, model.y_range()), k);
    out.mode = "fallback: item bias";
    out.description = "a new user with no ratings (items ranked by learned bias)";
  } else if (mode == "mean-user") {
    out.items = top_k(model.score_items(mean_user), k);
    out.mode = "fallback: mean user";
    out.description = "a new user with no ratings (the mean trained user's predictions)";
  } else if (mode == "representative") {
    const int64_t user = representative_user(model.user_vectors());
    out.items = top_k(model.score_items(model.user_vectors()[user]), k);
    out.mode = "fallback: representative user";
    const std::string who = users != nullptr && user < users->size()
                                ? "user " + users->raw(user)
                                : "user index " + std::to_string(user);
    out.description = "a new user with no ratings (the predictions of " + who +
                      ", the trained user nearest the mean user)";
  } else {
    throw std::invalid_argument(
        "--fallback must be \"bias\", \"mean-user\" or \"representative\", not " +
        quoted_for_message(mode));
  }
  return out;
}

torch::Tensor user_vector_from_features(const UserFeatureModel* user_model,
                                        const UserFeaturePairs& features,
                                        const std::string& model_path, const std::string& origin) {
  if (user_model == nullptr) {
    throw Error(model_path + " has no user feature model (fit one with: collab fit-users " +
                model_path + " --user-file u.user)");
  }
  const std::vector<float> x = encode_user_features(user_model->columns, features, origin);
  return user_model->predict(torch::tensor(x, torch::kFloat));
}

Recommendations recommend_from_features(CollabModelImpl& model, const torch::Tensor& user_vector,
                                        int64_t k) {
  Recommendations out;
  out.items = top_k(model.score_items(user_vector), k);
  out.mode = "user features";
  out.description = "a new user with no ratings (the vector their side information predicts)";
  return out;
}

ItemQuery trained_item_query(const LoadedModel& loaded, const std::string& item) {
  ItemQuery query;
  query.item = find_item(loaded.items, item);
  query.vector = loaded.model->item_factor_table()[query.item];
  return query;
}

ItemQuery new_item_query(const LoadedModel& loaded, const std::string& features) {
  // First the architecture's own feature path (trained with the factors end to end); a model
  // without one answers nullopt whatever the features, so an all-zero row asks.
  const ItemFeatureSchema schema = feature_schema(loaded);
  if (loaded.model->item_from_features(torch::zeros({schema.size()}))) {
    const auto new_item = loaded.model->item_from_features(parse_item_features(features, schema));
    return {new_item->factors, -1, features};
  }
  // Then the item metadata model fitted to the checkpoint (collab fit-items): its vector is the
  // item's factors followed by its bias where the model has one (item_vectors()); the leading
  // factors are what similarity compares.
  if (loaded.item_features) {
    const ItemFeatureModel& meta = *loaded.item_features;
    const torch::Tensor vector =
        meta.predict(parse_item_features(features, ItemFeatureSchema::from_names(meta.columns)));
    const int64_t n_factors = loaded.model->item_factor_table().size(1);
    if (vector.size(0) < n_factors) {
      throw Error(loaded.path + ": its item feature model predicts " +
                  std::to_string(vector.size(0)) + " values, fewer than the " +
                  std::to_string(n_factors) + " item factors (fit it again with collab fit-items)");
    }
    return {vector.slice(0, 0, n_factors), -1, features};
  }
  throw Error(
      "--features needs a model that reads item features into item factors "
      "(ContentBased, HybridDotProductBias) or an item feature model fitted to it (collab "
      "fit-items MODEL, for DotProduct and DotProductBias); " +
      loaded.path + " is " + loaded.model->arch() + " and has neither");
}

std::vector<ScoredItem> similar_items(const LoadedModel& loaded, const ItemQuery& query,
                                      const std::vector<int64_t>& item_counts, int64_t min_ratings,
                                      int64_t k) {
  std::vector<int64_t> exclude;
  if (query.item >= 0) exclude.push_back(query.item);
  for (size_t i = 0; i < item_counts.size(); ++i) {
    if (item_counts[i] < min_ratings) exclude.push_back(static_cast<int64_t>(i));
  }
  return centred_nearest_items(loaded.model->item_factor_table(), query.vector, exclude, k);
}

std::vector<double> predict_pairs(CollabModelImpl& model, std::vector<int64_t> flat) {
  const auto n = static_cast<int64_t>(flat.size() / 2);
  if (n == 0) return {};
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::from_blob(flat.data(), {n, 2}, torch::kLong);
  const torch::Tensor y = model.forward(x).to(torch::kDouble).contiguous();
  return std::vector<double>(y.data_ptr<double>(), y.data_ptr<double>() + n);
}

}  // namespace collab
