#include "collab/infer/audit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include <torch/torch.h>

#include "collab/infer/metrics.h"

namespace collab {

namespace {

void check_index(int64_t value, int64_t n, const char* what) {
  if (value < 0 || value >= n) {
    throw std::invalid_argument(std::string("audit: ") + what + " index " + std::to_string(value) +
                                " is outside 0.." + std::to_string(n - 1));
  }
}

double total_of(const std::vector<int64_t>& counts) {
  return static_cast<double>(std::accumulate(counts.begin(), counts.end(), int64_t{0}));
}

}  // namespace

double top_share(const std::vector<int64_t>& counts, const std::vector<int64_t>& ranking,
                 double fraction) {
  if (counts.size() != ranking.size()) {
    throw std::invalid_argument("top_share: counts and ranking differ in length");
  }
  const double total = total_of(counts);
  if (counts.empty() || total == 0) return 0;
  std::vector<size_t> order(counts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ranking[a] > ranking[b]; });
  const auto top = std::max<size_t>(
      1, static_cast<size_t>(std::ceil(fraction * static_cast<double>(counts.size()) - 1e-9)));
  double sum = 0;
  for (size_t r = 0; r < std::min(top, order.size()); ++r)
    sum += static_cast<double>(counts[order[r]]);
  return sum / total;
}

double gini_index(const std::vector<int64_t>& counts) {
  const double total = total_of(counts);
  if (counts.empty() || total == 0) return 0;
  std::vector<int64_t> sorted = counts;
  std::sort(sorted.begin(), sorted.end());
  const auto n = static_cast<double>(sorted.size());
  double weighted = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    weighted += static_cast<double>(i + 1) * static_cast<double>(sorted[i]);
  }
  return 2 * weighted / (n * total) - (n + 1) / n;
}

std::vector<double> lorenz_curve(const std::vector<int64_t>& counts) {
  std::vector<int64_t> sorted = counts;
  std::sort(sorted.begin(), sorted.end());
  const double total = total_of(counts);
  std::vector<double> curve{0.0};
  double sum = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    sum += static_cast<double>(sorted[i]);
    curve.push_back(total == 0 ? static_cast<double>(i + 1) / static_cast<double>(sorted.size())
                               : sum / total);
  }
  return curve;
}

Concentration concentration(const std::vector<int64_t>& counts,
                            const std::vector<int64_t>& train_item_counts, int64_t n_users) {
  Concentration c;
  c.slots = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  c.top1_share = top_share(counts, train_item_counts, 0.01);
  c.top10_share = top_share(counts, train_item_counts, 0.10);
  c.gini = gini_index(counts);
  if (!counts.empty()) {
    c.coverage = static_cast<double>(
                     std::count_if(counts.begin(), counts.end(), [](int64_t x) { return x > 0; })) /
                 static_cast<double>(counts.size());
  }
  if (c.slots > 0 && n_users > 0) {
    double information = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] == 0) continue;
      const double p = static_cast<double>(std::max<int64_t>(train_item_counts[i], 1)) /
                       static_cast<double>(n_users);
      information += static_cast<double>(counts[i]) * -std::log2(p);
    }
    c.novelty = information / static_cast<double>(c.slots);
  }
  return c;
}

UserGrouping activity_deciles(const std::vector<int64_t>& user_counts) {
  UserGrouping g;
  g.name = "activity decile";
  const size_t n = user_counts.size();
  g.group_of_user.assign(n, -1);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return user_counts[a] < user_counts[b]; });
  std::vector<int64_t> lo(10, std::numeric_limits<int64_t>::max()), hi(10, -1);
  for (size_t r = 0; r < n; ++r) {
    const int d = static_cast<int>(10 * r / n);
    g.group_of_user[order[r]] = d;
    lo[static_cast<size_t>(d)] = std::min(lo[static_cast<size_t>(d)], user_counts[order[r]]);
    hi[static_cast<size_t>(d)] = std::max(hi[static_cast<size_t>(d)], user_counts[order[r]]);
  }
  for (size_t d = 0; d < 10; ++d) {
    std::string label = "D" + std::to_string(d + 1);
    if (hi[d] >= 0) label += " (" + std::to_string(lo[d]) + "-" + std::to_string(hi[d]) + ")";
    g.labels.push_back(label);
  }
  return g;
}

AuditReport audit(const AuditInput& in) {
  const auto n_users = static_cast<size_t>(in.n_users);
  const auto n_items = static_cast<size_t>(in.n_items);
  if (in.train_users.size() != in.train_items.size() || in.top.size() != n_users ||
      in.valid_users.size() != in.valid_items.size() ||
      in.valid_users.size() != in.valid_ratings.size() ||
      in.valid_users.size() != in.valid_predictions.size()) {
    throw std::invalid_argument("audit: the input arrays differ in length");
  }
  AuditReport report;
  report.k = in.k;
  report.users = in.n_users;
  report.items = in.n_items;
  report.training_counts.assign(n_items, 0);
  report.recommendation_counts.assign(n_items, 0);
  std::vector<int64_t> user_counts(n_users, 0);
  for (size_t r = 0; r < in.train_users.size(); ++r) {
    check_index(in.train_users[r], in.n_users, "user");
    check_index(in.train_items[r], in.n_items, "item");
    ++user_counts[static_cast<size_t>(in.train_users[r])];
    ++report.training_counts[static_cast<size_t>(in.train_items[r])];
  }
  for (const auto& list : in.top) {
    for (const int64_t item : list) {
      check_index(item, in.n_items, "item");
      ++report.recommendation_counts[static_cast<size_t>(item)];
    }
  }
  report.recommendations =
      concentration(report.recommendation_counts, report.training_counts, in.n_users);
  report.training = concentration(report.training_counts, report.training_counts, in.n_users);
  report.heavy_user_share1 = top_share(user_counts, user_counts, 0.01);
  report.heavy_user_share10 = top_share(user_counts, user_counts, 0.10);

  std::vector<std::vector<int64_t>> relevant(n_users);
  for (size_t r = 0; r < in.valid_users.size(); ++r) {
    check_index(in.valid_users[r], in.n_users, "user");
    check_index(in.valid_items[r], in.n_items, "item");
    if (in.valid_ratings[r] >= in.relevance_threshold) {
      relevant[static_cast<size_t>(in.valid_users[r])].push_back(in.valid_items[r]);
    }
  }

  UserGrouping all{"all", {"all"}, std::vector<int>(n_users, 0)};
  std::vector<UserGrouping> groupings{all, activity_deciles(user_counts)};
  groupings.insert(groupings.end(), in.groupings.begin(), in.groupings.end());
  for (const UserGrouping& grouping : groupings) {
    if (grouping.group_of_user.size() != n_users) {
      throw std::invalid_argument("audit: grouping \"" + grouping.name + "\" has " +
                                  std::to_string(grouping.group_of_user.size()) + " users, not " +
                                  std::to_string(n_users));
    }
    const size_t n_groups = grouping.labels.size();
    std::vector<GroupQuality> groups(n_groups);
    std::vector<std::vector<float>> predictions(n_groups), targets(n_groups);
    std::vector<std::vector<std::vector<int64_t>>> group_relevant(
        n_groups, std::vector<std::vector<int64_t>>(n_users));
    for (size_t u = 0; u < n_users; ++u) {
      const int g = grouping.group_of_user[u];
      if (g < 0) continue;
      if (static_cast<size_t>(g) >= n_groups) {
        throw std::invalid_argument("audit: grouping \"" + grouping.name + "\" names group " +
                                    std::to_string(g) + " of " + std::to_string(n_groups));
      }
      ++groups[static_cast<size_t>(g)].users;
      group_relevant[static_cast<size_t>(g)][u] = relevant[u];
    }
    for (size_t r = 0; r < in.valid_users.size(); ++r) {
      const int g = grouping.group_of_user[static_cast<size_t>(in.valid_users[r])];
      if (g < 0) continue;
      predictions[static_cast<size_t>(g)].push_back(in.valid_predictions[r]);
      targets[static_cast<size_t>(g)].push_back(in.valid_ratings[r]);
    }
    for (size_t g = 0; g < n_groups; ++g) {
      GroupQuality& q = groups[g];
      q.grouping = grouping.name;
      q.group = grouping.labels[g];
      q.valid_ratings = static_cast<int64_t>(targets[g].size());
      q.rmse = std::numeric_limits<double>::quiet_NaN();
      if (!targets[g].empty()) {
        const auto n = static_cast<int64_t>(targets[g].size());
        q.rmse = rating_metrics(torch::from_blob(predictions[g].data(), {n}, torch::kFloat),
                                torch::from_blob(targets[g].data(), {n}, torch::kFloat))
                     .rmse;
      }
      q.ranking = ranking_metrics_from_lists(in.top, group_relevant[g], in.k, in.n_items);
      report.groups.push_back(q);
    }
  }
  return report;
}

}  // namespace collab
