// The item cold-start protocol (cold_start_eval.h: evaluate_item_cold_start), the mirror of the
// user one in cold_start_eval.cpp: hold out whole items, train on the rest, reveal a few ratings
// of each held-out item and score its others.
#include <algorithm>
#include <cmath>
#include <random>

#include "collab/common/config_reader.h"
#include "collab/common/error.h"
#include "collab/data/item_features.h"
#include "collab/infer/fold_in.h"
#include "collab/infer/item_metadata_model.h"
#include "collab/infer/ranking_metrics.h"
#include "collab/train/cold_start_eval.h"
#include "collab/train/run.h"
#include "cold_start_training.h"

namespace collab {

namespace {

const std::vector<std::string> kItemStrategies = {"mean item", "metadata", "fold-in",
                                                  "fold-in+meta"};

// One held-out item: its ratings by users with training ratings, in a seeded order (the first
// ones are those revealed).
struct ColdItem {
  int64_t item = 0;
  std::vector<int64_t> users;
  std::vector<float> ratings;
};

// The warm data (every user and item kept in the vocabularies, so the catalogue's rows still
// line up; the held-out items simply have no training ratings), the cold items, and what the
// metadata model is fitted to: the items with training ratings.
struct ItemSplit {
  Dataset warm;
  std::vector<ColdItem> cold;
  ItemMetadataData metadata;
  torch::Tensor trained_items;  // int64: the items with training ratings
};

ItemSplit split_items(const Dataset& all, const torch::Tensor& features,
                      const ColdStartOptions& options, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t n_items = all.items.size();
  std::vector<int64_t> order(static_cast<size_t>(n_items));
  for (int64_t i = 0; i < n_items; ++i) order[static_cast<size_t>(i)] = i;
  std::shuffle(order.begin(), order.end(), rng);
  const auto n_cold = static_cast<int64_t>(std::lround(options.holdout_fraction * n_items));
  std::vector<int64_t> cold_of(static_cast<size_t>(n_items), -1);
  ItemSplit out;
  for (int64_t r = 0; r < n_cold; ++r) {
    cold_of[static_cast<size_t>(order[static_cast<size_t>(r)])] = r;
    out.cold.push_back({order[static_cast<size_t>(r)], {}, {}});
  }
  out.warm.users = all.users;
  out.warm.items = all.items;
  out.warm.catalog = all.catalog;
  std::bernoulli_distribution valid(0.1);
  std::vector<int64_t> user_count(static_cast<size_t>(all.users.size()), 0);
  std::vector<int64_t> row_of(static_cast<size_t>(n_items), -1);
  for (const Ratings* part : {&all.train, &all.valid}) {
    for (size_t r = 0; r < part->size(); ++r) {
      const int64_t i = part->items[r];
      if (cold_of[static_cast<size_t>(i)] >= 0) continue;
      const bool to_valid = valid(rng);
      (to_valid ? out.warm.valid : out.warm.train)
          .push_back(part->users[r], i, part->ratings[r], part->timestamp(r));
      if (to_valid) continue;
      ++user_count[static_cast<size_t>(part->users[r])];
      auto& row = row_of[static_cast<size_t>(i)];
      if (row < 0) {
        row = static_cast<int64_t>(out.metadata.items.size());
        out.metadata.items.push_back(i);
        out.metadata.users.emplace_back();
        out.metadata.ratings.emplace_back();
      }
      out.metadata.users[static_cast<size_t>(row)].push_back(part->users[r]);
      out.metadata.ratings[static_cast<size_t>(row)].push_back(part->ratings[r]);
    }
  }
  out.trained_items = torch::tensor(out.metadata.items, torch::kLong);
  out.metadata.features = features.index_select(0, out.trained_items);
  // A cold item's ratings by users with no training rating cannot be scored (their embeddings
  // are untrained); the rest in a seeded order.
  for (const Ratings* part : {&all.train, &all.valid}) {
    for (size_t r = 0; r < part->size(); ++r) {
      const int64_t c = cold_of[static_cast<size_t>(part->items[r])];
      if (c < 0 || user_count[static_cast<size_t>(part->users[r])] == 0) continue;
      out.cold[static_cast<size_t>(c)].users.push_back(part->users[r]);
      out.cold[static_cast<size_t>(c)].ratings.push_back(part->ratings[r]);
    }
  }
  for (ColdItem& item : out.cold) {
    std::vector<size_t> perm(item.users.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    ColdItem shuffled{item.item, {}, {}};
    for (const size_t i : perm) {
      shuffled.users.push_back(item.users[i]);
      shuffled.ratings.push_back(item.ratings[i]);
    }
    item = std::move(shuffled);
  }
  return out;
}

// Per (strategy, reveal): squared errors, and per user the (prediction, item) pairs of their
// scored held-out-item ratings, which NDCG ranks.
struct ItemTally {
  std::vector<std::vector<double>> squared;
  std::vector<std::vector<std::vector<std::vector<std::pair<float, int64_t>>>>> scored;
  std::vector<std::vector<int64_t>> relevant;  // [user]
  int64_t ratings = 0;
  int64_t items = 0;
};

void score_cold_item(CollabModelImpl& model, const ItemFeatureModel& meta,
                     const torch::Tensor& features, const ItemSplit& split, const ColdItem& item,
                     const ColdStartOptions& options, int64_t max_reveal, ItemTally& tally) {
  const auto first = static_cast<std::ptrdiff_t>(max_reveal);
  const std::vector<int64_t> scored_users(item.users.begin() + first, item.users.end());
  const torch::Tensor scored = torch::tensor(scored_users, torch::kLong);
  const torch::Tensor truth =
      torch::tensor(std::vector<float>(item.ratings.begin() + first, item.ratings.end()))
          .to(torch::kDouble);
  for (size_t j = static_cast<size_t>(first); j < item.users.size(); ++j) {
    if (item.ratings[j] >= options.relevance_threshold)
      tally.relevant[static_cast<size_t>(item.users[j])].push_back(item.item);
  }
  const torch::Tensor mean = model.item_vectors().index_select(0, split.trained_items).mean(0);
  const torch::Tensor predicted = meta.predict(features[item.item]);
  auto record = [&](size_t strategy, size_t reveal, const torch::Tensor& vector) {
    const torch::Tensor p = model.score_users(vector, scored).to(torch::kDouble);
    tally.squared[strategy][reveal] += (p - truth).square().sum().item<double>();
    const torch::Tensor f = p.to(torch::kFloat).contiguous();
    for (size_t j = 0; j < scored_users.size(); ++j) {
      tally.scored[strategy][reveal][static_cast<size_t>(scored_users[j])].emplace_back(
          f.data_ptr<float>()[j], item.item);
    }
  };
  for (size_t r = 0; r < options.reveal.size(); ++r) {
    const auto n = static_cast<std::ptrdiff_t>(options.reveal[r]);
    const std::vector<int64_t> users(item.users.begin(), item.users.begin() + n);
    const std::vector<float> ratings(item.ratings.begin(), item.ratings.begin() + n);
    FoldInOptions fold;
    fold.prior_weight = options.prior_weight;
    const torch::Tensor plain = fold_in_item(model, users, ratings, fold, split.trained_items);
    fold.prior_mean = predicted;
    const torch::Tensor with_meta = fold_in_item(model, users, ratings, fold, split.trained_items);
    record(0, r, mean);
    record(1, r, predicted);
    record(2, r, plain);
    record(3, r, with_meta);
  }
  tally.ratings += scored.size(0);
  ++tally.items;
}

// NDCG@k over each user's scored held-out-item ratings: the user's top k of those items by the
// strategy's prediction (ties: lower item index first) against the ones rated >= the threshold.
double held_out_item_ndcg(std::vector<std::vector<std::pair<float, int64_t>>> per_user,
                          const std::vector<std::vector<int64_t>>& relevant, int64_t k,
                          int64_t n_items) {
  std::vector<std::vector<int64_t>> top(per_user.size());
  for (size_t u = 0; u < per_user.size(); ++u) {
    auto& list = per_user[u];
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (size_t j = 0; j < list.size() && static_cast<int64_t>(j) < k; ++j)
      top[u].push_back(list[j].second);
  }
  return ranking_metrics_from_lists(top, relevant, k, n_items).ndcg;
}

}  // namespace

ColdStartResult evaluate_item_cold_start(const RunConfig& run, const ColdStartOptions& options) {
  if (options.reveal.empty() || options.seeds.empty()) {
    throw Error("cold start: give at least one reveal count and one seed");
  }
  const int64_t max_reveal = *std::max_element(options.reveal.begin(), options.reveal.end());
  const Dataset all = load_dataset(run.data);
  if (all.catalog.empty()) {
    throw Error(
        "cold start --side items: the data section names no item catalogue (data.items: u.item, "
        "movies.dat, movies.csv or a CSV with data.items_format \"csv\"); the metadata model "
        "reads the items' genres and release decades from it");
  }
  {
    // An architecture without item views fails here, before the first seed's training.
    ConfigReader model_section(run.model, "model", nullptr);
    build_model_for(model_section, all)->item_vectors();
  }
  const ItemFeatureSchema schema = ItemFeatureSchema::of(all.catalog);
  const torch::Tensor features = item_feature_matrix(all.catalog, schema, all.items.size());
  ColdStartResult out;
  out.side = "items";
  out.baseline = 0;
  out.strategies = kItemStrategies;
  out.reveal = options.reveal;
  const size_t n_strategies = kItemStrategies.size(), n_reveal = options.reveal.size();
  for (const uint64_t seed : options.seeds) {
    const ItemSplit split = split_items(all, features, options, seed);
    const RunResult trained = train_warm_model(run, split.warm, seed);
    CollabModelImpl& model = *trained.model;
    torch::NoGradGuard no_grad;
    MetadataOptions fit;
    fit.seed = seed;
    const ItemFeatureModel meta =
        fit_item_metadata_model(model, schema.names(), split.metadata, fit);
    ItemTally tally;
    tally.squared.assign(n_strategies, std::vector<double>(n_reveal, 0.0));
    tally.scored.assign(n_strategies,
                        std::vector<std::vector<std::vector<std::pair<float, int64_t>>>>(
                            n_reveal, std::vector<std::vector<std::pair<float, int64_t>>>(
                                          static_cast<size_t>(all.users.size()))));
    tally.relevant.resize(static_cast<size_t>(all.users.size()));
    for (const ColdItem& item : split.cold) {
      // Items with too few ratings to reveal max_reveal and score the rest are left out.
      if (static_cast<int64_t>(item.users.size()) <= max_reveal) continue;
      score_cold_item(model, meta, features, split, item, options, max_reveal, tally);
    }
    std::vector<std::vector<double>> rmse = tally.squared, ndcg(n_strategies);
    for (size_t s = 0; s < n_strategies; ++s) {
      for (size_t r = 0; r < n_reveal; ++r) {
        rmse[s][r] =
            std::sqrt(rmse[s][r] / static_cast<double>(std::max<int64_t>(1, tally.ratings)));
        ndcg[s].push_back(
            held_out_item_ndcg(tally.scored[s][r], tally.relevant, options.k, all.items.size()));
      }
    }
    out.rmse.push_back(std::move(rmse));
    out.ndcg.push_back(std::move(ndcg));
    out.held_out_users.push_back(tally.items);
    out.scored_ratings.push_back(tally.ratings);
    out.metadata_ridge.push_back(meta.report["ridge"].get<double>());
  }
  return out;
}

}  // namespace collab
