// Top-N ranking metrics of a recommender, following Microsoft Recommenders' conventions: each
// user's candidates are the items they did not rate in training, ranked by predicted rating;
// an item is relevant when the user rated it in the test set at least `relevance_threshold`;
// per-user values are averaged over the users with at least one relevant test item (users with
// none cannot be scored and are left out rather than counted as zero).
//
//   precision@k  hits in the top k / k (k even when fewer than k candidates exist)
//   recall@k     hits in the top k / number of relevant items
//   NDCG@k       sum over hits at rank r of 1/log2(r+1), divided by the same sum for the ideal
//                list (min(relevant, k) hits at ranks 1, 2, ...): binary relevance
//   MAP@k        sum over hits at rank r of (hits at ranks <= r) / r, divided by
//                min(relevant, k) (recommenders >= 1.2's map_at_k)
//   hit rate@k   1 when the top k holds at least one relevant item, else 0
//   coverage     distinct items in the scored users' top-k lists / items in the training set
//                (catalogue coverage, Recommenders' catalog_coverage)
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "collab/data/ratings.h"
#include "collab/models/collab_model.h"

namespace collab {

struct RankingOptions {
  int64_t k = 10;
  double relevance_threshold = 4.0;
};

struct RankingMetrics {
  double precision = 0;
  double recall = 0;
  double ndcg = 0;
  double map = 0;
  double hit_rate = 0;
  double coverage = 0;
  int64_t users = 0;  // users averaged over (with at least one relevant test item)
};

// From ranked lists: `top[u]` is user u's recommendation list, best first (only its first k
// entries count), `relevant[u]` their relevant test items (users with none are skipped);
// `catalogue_size` is the coverage denominator.
RankingMetrics ranking_metrics_from_lists(const std::vector<std::vector<int64_t>>& top,
                                          const std::vector<std::vector<int64_t>>& relevant,
                                          int64_t k, int64_t catalogue_size);

// The top `k` items of one user from `scores` (one per item), skipping `exclude` (sorted):
// highest score first, ties broken by the lower item index so results are deterministic.
std::vector<int64_t> top_k_items(const float* scores, int64_t n_items,
                                 const std::vector<int64_t>& exclude, int64_t k);

// From a score matrix: `scores` is float [n_users, n_items] on the CPU (row u: user u's
// predicted rating of every item). Candidates, relevance and the catalogue are as above.
RankingMetrics ranking_metrics(const torch::Tensor& scores, const Ratings& train,
                               const Ratings& test, const RankingOptions& options);

// Told the users ranked so far and how many will be, after each block.
using RankingProgress = std::function<void(int64_t done, int64_t total)>;

// Ranks every unrated item for each test user with `model` through a UserScorer (user_scores.h:
// a block of users scored at once, `chunk` (user, item) scores a block at most, 0 for the
// scorer's default; on `device`) and the per-user partial top-k of top_k_for_users, on all
// threads, and computes the metrics above. Only users with a relevant test item are scored, so
// the cost is (those users) x (items) predictions and no [users, items] matrix is kept.
RankingMetrics evaluate_ranking(CollabModelImpl& model, int64_t n_users, int64_t n_items,
                                const Ratings& train, const Ratings& test,
                                const RankingOptions& options, int64_t chunk,
                                const torch::Device& device,
                                const RankingProgress& on_progress = {});

}  // namespace collab
