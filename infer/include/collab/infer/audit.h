// What a model's top-k lists do to the catalogue and to groups of users (`collab audit`): how
// concentrated the recommendations are on popular items, next to the same figures for the
// training ratings; how much of the training data the heaviest raters wrote; and accuracy and
// ranking quality per group of users. Plain structs in, plain structs out; nothing printed.
//
// Definitions (counts c_i of recommendation slots, or of training ratings, over all n items):
//   top-q share  sum of c_i over the ceil(q n) items (at least 1) with the most TRAINING ratings
//                (ties: lower index first) / sum of c_i
//   Gini         over all n items, zero counts included, c sorted ascending (i = 1..n):
//                G = 2 sum_i i c_(i) / (n sum c) - (n + 1) / n; 0 = every item equally often,
//                (n - 1) / n = one item takes everything
//   coverage     items with c_i > 0 / n
//   novelty      mean self-information of a slot's item, sum_i c_i (-log2 p_i) / sum c with
//                p_i = (training ratings of item i) / (users), the share of users who rated it;
//                an item with no training rating counts as rated once (Zhou et al. 2010,
//                "Solving the apparent diversity-accuracy dilemma of recommender systems", PNAS
//                107(10), 4511-4515: the "novelty" of a list as the mean self-information
//                of its items)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collab/infer/ranking_metrics.h"

namespace collab {

struct Concentration {
  int64_t slots = 0;  // sum of the counts
  double top1_share = 0;
  double top10_share = 0;
  double gini = 0;
  double coverage = 0;
  double novelty = 0;
};

// Share of the total of `counts` on the top `fraction` of entries ranked by `ranking` (same
// length; most first, ties to the lower index). 0 when the total is 0.
double top_share(const std::vector<int64_t>& counts, const std::vector<int64_t>& ranking,
                 double fraction);
// Gini index of `counts` (above); 0 for an empty or all-zero vector.
double gini_index(const std::vector<int64_t>& counts);
// The Lorenz curve of `counts`: n + 1 points, the share of the total held by the i smallest
// entries, i = 0..n (0 ... 1); all zeros give the diagonal.
std::vector<double> lorenz_curve(const std::vector<int64_t>& counts);
// All of Concentration for per-item `counts`, items ranked and p_i taken from
// `train_item_counts`, over `n_users` users.
Concentration concentration(const std::vector<int64_t>& counts,
                            const std::vector<int64_t>& train_item_counts, int64_t n_users);

// A partition of the users into named groups: group_of_user[u] indexes labels, -1: in none.
struct UserGrouping {
  std::string name;                 // "activity decile", "gender", ...
  std::vector<std::string> labels;  // in report order
  std::vector<int> group_of_user;   // [n_users]
};

// Users in deciles of training activity (ratings each): sorted by count (ties: lower index),
// decile floor(10 rank / n); labels "D1 (a-b ratings)" from the fewest ratings to "D10".
UserGrouping activity_deciles(const std::vector<int64_t>& user_counts);

struct GroupQuality {
  std::string grouping;
  std::string group;
  int64_t users = 0;          // users in the group
  int64_t valid_ratings = 0;  // their validation ratings
  double rmse = 0;            // over those ratings; NaN when there are none
  RankingMetrics ranking;     // ranking_metrics_from_lists over the group's users
};

struct AuditInput {
  int64_t n_users = 0;
  int64_t n_items = 0;
  int64_t k = 10;
  double relevance_threshold = 4.0;  // as RankingOptions
  std::vector<int64_t> train_users;  // training ratings, (user, item) index pairs
  std::vector<int64_t> train_items;
  std::vector<std::vector<int64_t>> top;  // [n_users]: each user's recommendations, best first
  std::vector<int64_t> valid_users;       // validation ratings and the model's predictions
  std::vector<int64_t> valid_items;
  std::vector<float> valid_ratings;
  std::vector<float> valid_predictions;
  std::vector<UserGrouping> groupings;  // reported after "all" and the activity deciles
};

struct AuditReport {
  int64_t k = 0;
  int64_t users = 0;
  int64_t items = 0;
  Concentration recommendations;               // over the top-k slots of every user
  Concentration training;                      // over the training ratings: the baseline
  double heavy_user_share1 = 0;                // share of training ratings from the top 1% of users
  double heavy_user_share10 = 0;               // ... top 10%, by training ratings
  std::vector<int64_t> recommendation_counts;  // [n_items]
  std::vector<int64_t> training_counts;        // [n_items]
  std::vector<GroupQuality> groups;            // "all", activity deciles, then `groupings`
};

// Throws std::invalid_argument when the arrays disagree in length or hold an index out of range.
AuditReport audit(const AuditInput& input);

}  // namespace collab
