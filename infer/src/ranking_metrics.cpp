#include "collab/infer/ranking_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <unordered_set>

#include "collab/common/error.h"
#include "collab/infer/top_k.h"
#include "collab/infer/user_scores.h"

namespace collab {

namespace {

// Per user, the sorted items of `ratings` whose rating passes `keep`.
template <typename Keep>
std::vector<std::vector<int64_t>> items_by_user(const Ratings& ratings, int64_t n_users,
                                                Keep keep) {
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(n_users));
  for (size_t r = 0; r < ratings.size(); ++r) {
    if (keep(ratings.ratings[r]))
      out[static_cast<size_t>(ratings.users[r])].push_back(ratings.items[r]);
  }
  for (auto& items : out) {
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
  }
  return out;
}

int64_t max_index(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  int64_t m = -1;
  for (const int64_t x : a) m = std::max(m, x);
  for (const int64_t x : b) m = std::max(m, x);
  return m;
}

int64_t distinct_items(const Ratings& train) {
  return static_cast<int64_t>(
      std::unordered_set<int64_t>(train.items.begin(), train.items.end()).size());
}

}  // namespace

RankingMetrics ranking_metrics_from_lists(const std::vector<std::vector<int64_t>>& top,
                                          const std::vector<std::vector<int64_t>>& relevant,
                                          int64_t k, int64_t catalogue_size) {
  if (top.size() != relevant.size()) {
    throw std::invalid_argument("ranking_metrics_from_lists: top and relevant differ in length");
  }
  if (k < 1) throw std::invalid_argument("ranking_metrics_from_lists: k must be positive");
  RankingMetrics m;
  std::unordered_set<int64_t> recommended;
  for (size_t u = 0; u < top.size(); ++u) {
    if (relevant[u].empty()) continue;  // no relevant test item: the user cannot be scored
    const std::unordered_set<int64_t> rel(relevant[u].begin(), relevant[u].end());
    const auto n_rel = static_cast<int64_t>(rel.size());
    const int64_t n = std::min<int64_t>(k, static_cast<int64_t>(top[u].size()));
    int64_t hits = 0;
    double dcg = 0, precision_sum = 0;
    for (int64_t r = 0; r < n; ++r) {
      const int64_t item = top[u][static_cast<size_t>(r)];
      recommended.insert(item);
      if (!rel.count(item)) continue;
      ++hits;
      dcg += 1.0 / std::log2(static_cast<double>(r) + 2.0);
      precision_sum += static_cast<double>(hits) / static_cast<double>(r + 1);
    }
    double idcg = 0;
    for (int64_t r = 0; r < std::min(n_rel, k); ++r)
      idcg += 1.0 / std::log2(static_cast<double>(r) + 2.0);
    m.precision += static_cast<double>(hits) / static_cast<double>(k);
    m.recall += static_cast<double>(hits) / static_cast<double>(n_rel);
    m.ndcg += dcg / idcg;
    m.map += precision_sum / static_cast<double>(std::min(n_rel, k));
    m.hit_rate += hits > 0 ? 1.0 : 0.0;
    ++m.users;
  }
  if (m.users > 0) {
    const auto n = static_cast<double>(m.users);
    m.precision /= n;
    m.recall /= n;
    m.ndcg /= n;
    m.map /= n;
    m.hit_rate /= n;
  }
  m.coverage = catalogue_size > 0
                   ? static_cast<double>(recommended.size()) / static_cast<double>(catalogue_size)
                   : 0.0;
  return m;
}

std::vector<int64_t> top_k_items(const float* scores, int64_t n_items,
                                 const std::vector<int64_t>& exclude, int64_t k) {
  std::vector<int64_t> items;
  if (k <= 0) return items;  // ranking metrics need k >= 1; "none" rather than top_k's "all"
  for (const ScoredItem& s : top_k_of_row(scores, n_items, exclude, k)) items.push_back(s.item);
  return items;
}

namespace {

// Per user, the items ranking leaves out (rated in training) and the relevant test items; the
// indices checked against the `what` being ranked.
struct RankingTargets {
  std::vector<std::vector<int64_t>> seen;
  std::vector<std::vector<int64_t>> relevant;
};
RankingTargets ranking_targets(const Ratings& train, const Ratings& test, int64_t n_users,
                               int64_t n_items, const RankingOptions& options, const char* caller,
                               const char* what) {
  if (max_index(train.users, test.users) >= n_users ||
      max_index(train.items, test.items) >= n_items) {
    throw std::invalid_argument(std::string(caller) +
                                ": a rating's user or item is outside the " + what);
  }
  const double threshold = options.relevance_threshold;
  return {items_by_user(train, n_users, [](float) { return true; }),
          items_by_user(test, n_users, [threshold](float r) { return r >= threshold; })};
}

}  // namespace

RankingMetrics ranking_metrics(const torch::Tensor& scores, const Ratings& train,
                               const Ratings& test, const RankingOptions& options) {
  if (scores.dim() != 2) throw std::invalid_argument("ranking_metrics: scores must be 2-D");
  const torch::Tensor s = scores.to(torch::kCPU, torch::kFloat).contiguous();
  const int64_t n_users = s.size(0), n_items = s.size(1);
  const auto [seen, relevant] =
      ranking_targets(train, test, n_users, n_items, options, "ranking_metrics", "scores");
  std::vector<std::vector<int64_t>> top(static_cast<size_t>(n_users));
  const float* data = s.data_ptr<float>();
  for (int64_t u = 0; u < n_users; ++u) {
    if (relevant[static_cast<size_t>(u)].empty()) continue;
    top[static_cast<size_t>(u)] =
        top_k_items(data + u * n_items, n_items, seen[static_cast<size_t>(u)], options.k);
  }
  return ranking_metrics_from_lists(top, relevant, options.k, distinct_items(train));
}

RankingMetrics evaluate_ranking(CollabModelImpl& model, int64_t n_users, int64_t n_items,
                                const Ratings& train, const Ratings& test,
                                const RankingOptions& options, int64_t chunk,
                                const torch::Device& device, const RankingProgress& on_progress) {
  const auto [seen, relevant] =
      ranking_targets(train, test, n_users, n_items, options, "evaluate_ranking", "model");
  // Only users with a relevant test item are scored; the others' lists stay empty, never read.
  std::vector<int64_t> users;
  for (int64_t u = 0; u < n_users; ++u) {
    if (!relevant[static_cast<size_t>(u)].empty()) users.push_back(u);
  }
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  const UserScorer scorer(model, n_items, device, chunk);
  std::vector<std::vector<int64_t>> top(static_cast<size_t>(n_users));
  int64_t done = 0;
  top_k_for_users(scorer, users, seen, options.k, [&](std::vector<UserTopK>&& block) {
    for (const UserTopK& list : block) {
      auto& items = top[static_cast<size_t>(list.user)];
      for (const ScoredItem& item : list.items) items.push_back(item.item);
    }
    done += static_cast<int64_t>(block.size());
    if (on_progress) on_progress(done, static_cast<int64_t>(users.size()));
  });
  model.train(was_training);
  return ranking_metrics_from_lists(top, relevant, options.k, distinct_items(train));
}

}  // namespace collab
