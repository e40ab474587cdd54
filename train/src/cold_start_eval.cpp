#include "collab/train/cold_start_eval.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <unordered_map>

#include "collab/common/error.h"
#include "collab/data/user_features.h"
#include "collab/infer/fold_in.h"
#include "collab/infer/ranking_metrics.h"
#include "collab/infer/user_metadata_model.h"
#include "collab/models/layers.h"
#include "collab/train/run.h"
#include "cold_start_training.h"

namespace collab {

namespace {

const std::vector<std::string> kStrategies = {"item bias", "mean user", "representative",
                                              "metadata",  "fold-in",   "fold-in+meta"};

// One held-out user: their ratings (items in the warm model's vocabulary) in a seeded order, and
// their one-hot side information.
struct ColdUser {
  std::vector<int64_t> items;
  std::vector<float> ratings;
  torch::Tensor features;
};

// The warm users' data (new user vocabulary, same items) and the cold users, for one seed.
struct UserSplit {
  Dataset warm;
  std::vector<ColdUser> cold;
  std::vector<std::string> cold_raw;     // the cold users' raw ids, as `cold`
  UserMetadataData metadata;             // the warm users with side information
  std::vector<int64_t> untrained_items;  // ascending: items no warm user rated
};

// Draws the cold users and shares out the ratings: a warm user's to the warm train (90%) or
// valid (10%) split, a cold user's to them unless no warm user rated the item (its embedding is
// untrained: no strategy can rate it).
void split_ratings(const Dataset& all, const ColdStartOptions& options, std::mt19937_64& rng,
                   UserSplit& out) {
  const int64_t n_users = all.users.size();
  std::vector<int64_t> order(static_cast<size_t>(n_users));
  for (int64_t u = 0; u < n_users; ++u) order[static_cast<size_t>(u)] = u;
  std::shuffle(order.begin(), order.end(), rng);
  const auto n_cold = static_cast<int64_t>(std::lround(options.holdout_fraction * n_users));
  std::vector<int64_t> cold_of(static_cast<size_t>(n_users), -1), warm_of(cold_of);
  out.warm.items = all.items;
  out.warm.catalog = all.catalog;
  for (int64_t r = 0; r < n_users; ++r) {
    const int64_t u = order[static_cast<size_t>(r)];
    if (r < n_cold) {
      cold_of[static_cast<size_t>(u)] = static_cast<int64_t>(out.cold.size());
      out.cold.emplace_back();
      out.cold_raw.push_back(all.users.raw(u));
    } else {
      warm_of[static_cast<size_t>(u)] = out.warm.users.add(all.users.raw(u));
    }
  }
  std::bernoulli_distribution valid(0.1);
  std::vector<int64_t> warm_count(static_cast<size_t>(all.items.size()), 0);
  for (const Ratings* part : {&all.train, &all.valid}) {
    for (size_t r = 0; r < part->size(); ++r) {
      const auto u = static_cast<size_t>(part->users[r]);
      if (warm_of[u] < 0) continue;
      (valid(rng) ? out.warm.valid : out.warm.train)
          .push_back(warm_of[u], part->items[r], part->ratings[r], part->timestamp(r));
      ++warm_count[static_cast<size_t>(part->items[r])];
    }
  }
  for (const Ratings* part : {&all.train, &all.valid}) {
    for (size_t r = 0; r < part->size(); ++r) {
      const int64_t c = cold_of[static_cast<size_t>(part->users[r])];
      if (c < 0 || warm_count[static_cast<size_t>(part->items[r])] == 0) continue;
      out.cold[static_cast<size_t>(c)].items.push_back(part->items[r]);
      out.cold[static_cast<size_t>(c)].ratings.push_back(part->ratings[r]);
    }
  }
  for (int64_t i = 0; i < all.items.size(); ++i) {
    if (warm_count[static_cast<size_t>(i)] == 0) out.untrained_items.push_back(i);
  }
}

// Raw user id -> one-hot side information (undefined for a user the file does not list).
class FeatureLookup {
 public:
  FeatureLookup(const std::vector<UserRecord>& records, const std::vector<std::string>& columns)
      : columns_(columns) {
    for (const auto& r : records) record_of_[r.id] = &r;
  }
  torch::Tensor operator()(const std::string& raw) const {
    const auto at = record_of_.find(raw);
    if (at == record_of_.end()) return {};
    return torch::tensor(encode_user_features(columns_, user_feature_pairs(*at->second), raw));
  }

 private:
  const std::vector<std::string>& columns_;
  std::unordered_map<std::string, const UserRecord*> record_of_;
};

// Each cold user's ratings in a seeded order (the first ones are those revealed), and their side
// information.
void shuffle_cold_users(const FeatureLookup& features, std::mt19937_64& rng, UserSplit& out) {
  for (size_t c = 0; c < out.cold.size(); ++c) {
    ColdUser& cold = out.cold[c];
    std::vector<size_t> perm(cold.items.size());
    for (size_t i = 0; i < perm.size(); ++i) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    ColdUser shuffled{{}, {}, features(out.cold_raw[c])};
    for (const size_t i : perm) {
      shuffled.items.push_back(cold.items[i]);
      shuffled.ratings.push_back(cold.ratings[i]);
    }
    cold = std::move(shuffled);
  }
}

// What the metadata model is fitted to: the warm users the file lists, with their training
// ratings.
void warm_metadata(const FeatureLookup& features, const std::string& user_file, UserSplit& out) {
  std::vector<torch::Tensor> rows;
  std::vector<int64_t> row_of(static_cast<size_t>(out.warm.users.size()), -1);
  for (int64_t w = 0; w < out.warm.users.size(); ++w) {
    const torch::Tensor x = features(out.warm.users.raw(w));
    if (!x.defined()) continue;
    row_of[static_cast<size_t>(w)] = static_cast<int64_t>(rows.size());
    out.metadata.users.push_back(w);
    rows.push_back(x);
  }
  if (rows.size() < 10) throw Error(user_file + ": lists fewer than 10 of the users");
  out.metadata.features = torch::stack(rows);
  out.metadata.items.resize(rows.size());
  out.metadata.ratings.resize(rows.size());
  for (size_t r = 0; r < out.warm.train.size(); ++r) {
    const int64_t row = row_of[static_cast<size_t>(out.warm.train.users[r])];
    if (row < 0) continue;
    out.metadata.items[static_cast<size_t>(row)].push_back(out.warm.train.items[r]);
    out.metadata.ratings[static_cast<size_t>(row)].push_back(out.warm.train.ratings[r]);
  }
}

UserSplit split_users(const Dataset& all, const std::vector<UserRecord>& records,
                      const std::vector<std::string>& columns, const ColdStartOptions& options,
                      uint64_t seed) {
  std::mt19937_64 rng(seed);
  UserSplit out;
  split_ratings(all, options, rng, out);
  const FeatureLookup features(records, columns);
  shuffle_cold_users(features, rng, out);
  warm_metadata(features, options.user_file, out);
  return out;
}

// Squared errors and top-k lists per (strategy, reveal) over the cold users of one seed.
struct Tally {
  std::vector<std::vector<double>> squared;
  std::vector<std::vector<std::vector<std::vector<int64_t>>>> top;  // [strategy][reveal][user]
  std::vector<std::vector<int64_t>> relevant;                       // [user]
  int64_t ratings = 0;
  int64_t users = 0;
};

void score_cold_user(CollabModelImpl& model, const UserFeatureModel& meta, const ColdUser& user,
                     const std::vector<int64_t>& untrained, const ColdStartOptions& options,
                     int64_t max_reveal, Tally& tally) {
  const auto first_scored = static_cast<std::ptrdiff_t>(max_reveal);
  const torch::Tensor scored = torch::tensor(
      std::vector<int64_t>(user.items.begin() + first_scored, user.items.end()), torch::kLong);
  const torch::Tensor truth =
      torch::tensor(std::vector<float>(user.ratings.begin() + first_scored, user.ratings.end()))
          .to(torch::kDouble);
  std::vector<int64_t> relevant;
  for (size_t i = static_cast<size_t>(first_scored); i < user.items.size(); ++i) {
    if (user.ratings[i] >= options.relevance_threshold) relevant.push_back(user.items[i]);
  }
  tally.relevant.push_back(relevant);
  const torch::Tensor vectors = model.user_vectors();
  const torch::Tensor mean = vectors.mean(0);
  const torch::Tensor representative = vectors[representative_user(vectors)];
  const torch::Tensor predicted =
      user.features.defined() ? meta.predict(user.features) : mean;  // no side info: mean user
  // One strategy's predictions of every item: its squared error on the scored ratings and its
  // top k among the items neither revealed nor untrained.
  auto record = [&](size_t strategy, size_t reveal, const torch::Tensor& all_items) {
    const torch::Tensor p = all_items.to(torch::kDouble);
    tally.squared[strategy][reveal] +=
        (p.index_select(0, scored) - truth).square().sum().item<double>();
    std::vector<int64_t> exclude(untrained);
    exclude.insert(exclude.end(), user.items.begin(),
                   user.items.begin() + static_cast<std::ptrdiff_t>(options.reveal[reveal]));
    std::sort(exclude.begin(), exclude.end());
    const torch::Tensor f = all_items.to(torch::kFloat).contiguous();
    tally.top[strategy][reveal].push_back(
        top_k_items(f.data_ptr<float>(), f.size(0), exclude, options.k));
  };
  const auto bias = model.bias_ratings(mean);
  const torch::Tensor fixed[4] = {bias ? sigmoid_range(*bias, model.y_range())
                                       : torch::full({model.score_items(mean).size(0)}, NAN),
                                  model.score_items(mean), model.score_items(representative),
                                  model.score_items(predicted)};
  for (size_t r = 0; r < options.reveal.size(); ++r) {
    const auto n = static_cast<std::ptrdiff_t>(options.reveal[r]);
    const std::vector<int64_t> items(user.items.begin(), user.items.begin() + n);
    const std::vector<float> ratings(user.ratings.begin(), user.ratings.begin() + n);
    FoldInOptions fold;
    fold.prior_weight = options.prior_weight;
    torch::Tensor plain, with_meta;
    {
      // CollabNN's fold-in takes gradient steps: it needs autograd back.
      torch::AutoGradMode grad(true);
      plain = fold_in_user(model, items, ratings, fold);
      fold.prior_mean = predicted;
      with_meta = fold_in_user(model, items, ratings, fold);
    }
    for (size_t s = 0; s < 4; ++s) record(s, r, fixed[s]);
    record(4, r, model.score_items(plain));
    record(5, r, model.score_items(with_meta));
  }
  tally.ratings += scored.size(0);
  ++tally.users;
}

}  // namespace

ColdStartResult evaluate_user_cold_start(const RunConfig& run, const ColdStartOptions& options) {
  if (options.reveal.empty() || options.seeds.empty()) {
    throw Error("cold start: give at least one reveal count and one seed");
  }
  const int64_t max_reveal = *std::max_element(options.reveal.begin(), options.reveal.end());
  const Dataset all = load_dataset(run.data);
  const std::vector<UserRecord> records = read_user_file(options.user_file);
  const std::vector<std::string> columns = user_feature_columns(records);
  ColdStartResult out;
  out.strategies = kStrategies;
  out.reveal = options.reveal;
  for (const uint64_t seed : options.seeds) {
    const UserSplit split = split_users(all, records, columns, options, seed);
    const RunResult trained = train_warm_model(run, split.warm, seed);
    CollabModelImpl& model = *trained.model;
    torch::NoGradGuard no_grad;
    UserMetadataOptions fit;
    fit.seed = seed;
    const UserFeatureModel meta = fit_user_metadata_model(model, columns, split.metadata, fit);
    Tally tally;
    tally.squared.assign(kStrategies.size(), std::vector<double>(options.reveal.size(), 0.0));
    tally.top.assign(kStrategies.size(),
                     std::vector<std::vector<std::vector<int64_t>>>(options.reveal.size()));
    for (const ColdUser& user : split.cold) {
      // Users with too few ratings to reveal max_reveal and score the rest are left out.
      if (static_cast<int64_t>(user.items.size()) <= max_reveal) continue;
      score_cold_user(model, meta, user, split.untrained_items, options, max_reveal, tally);
    }
    std::vector<std::vector<double>> rmse = tally.squared;
    for (auto& row : rmse) {
      for (auto& v : row)
        v = std::sqrt(v / static_cast<double>(std::max<int64_t>(1, tally.ratings)));
    }
    out.rmse.push_back(std::move(rmse));
    std::vector<std::vector<double>> ndcg(kStrategies.size());
    for (size_t k = 0; k < kStrategies.size(); ++k) {
      for (size_t r = 0; r < options.reveal.size(); ++r) {
        ndcg[k].push_back(k == 0 && !model.learned_item_bias()
                              ? NAN
                              : ranking_metrics_from_lists(tally.top[k][r], tally.relevant,
                                                           options.k, all.items.size())
                                    .ndcg);
      }
    }
    out.ndcg.push_back(std::move(ndcg));
    out.held_out_users.push_back(tally.users);
    out.scored_ratings.push_back(tally.ratings);
    out.metadata_ridge.push_back(meta.report["ridge"].get<double>());
  }
  return out;
}

}  // namespace collab
