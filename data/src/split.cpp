#include "collab/data/split.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <torch/torch.h>

#include "collab/common/config_reader.h"
#include "collab/common/error.h"

namespace collab {

namespace {

// Rows flagged as test go to the test set, the others to training; both keep file order.
Split by_flags(const Ratings& all, const std::vector<bool>& is_test) {
  std::vector<int64_t> train_rows, test_rows;
  for (size_t r = 0; r < is_test.size(); ++r) {
    (is_test[r] ? test_rows : train_rows).push_back(static_cast<int64_t>(r));
  }
  return {all.select(train_rows), all.select(test_rows)};
}

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor perm = torch::randperm(n, generator, torch::kLong);
  const int64_t* p = perm.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + n);
}

}  // namespace

Split random_split(const Ratings& all, double valid_pct, uint64_t seed, const std::string& key) {
  const auto n = static_cast<int64_t>(all.size());
  const auto cut = static_cast<int64_t>(valid_pct * static_cast<double>(n));
  if (cut == 0 || cut == n) {
    throw Error(key + ": " + describe(json(valid_pct)) + " of " + std::to_string(n) +
                " ratings leaves an empty training or validation set");
  }
  const std::vector<int64_t> p = seeded_permutation(n, seed);
  Split split;
  split.valid = all.select(std::vector<int64_t>(p.begin(), p.begin() + cut));
  split.train = all.select(std::vector<int64_t>(p.begin() + cut, p.end()));
  return split;
}

Split temporal_split(const Ratings& all, std::optional<int64_t> before,
                     std::optional<double> test_fraction, const std::string& section) {
  const size_t n = all.size();
  if (all.timestamps.empty()) {
    throw Error(section + ": a temporal split orders ratings by time, but these " +
                std::to_string(n) + " ratings have no timestamps (no fourth column, or all 0)");
  }
  int64_t cutoff = 0;
  std::string key;
  if (test_fraction) {
    key = section + ".test_fraction";
    const auto n_test = static_cast<size_t>(*test_fraction * static_cast<double>(n));
    if (n_test == 0) {
      throw Error(key + ": " + describe(json(*test_fraction)) + " of " + std::to_string(n) +
                  " ratings leaves an empty test set");
    }
    std::vector<int64_t> times = all.timestamps;
    // The earliest of the latest n_test ratings: the (n - n_test)-th smallest time.
    std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(n - n_test),
                     times.end());
    cutoff = times[n - n_test];
  } else {
    key = section + ".before";
    cutoff = *before;
  }
  std::vector<bool> is_test(n);
  size_t n_test = 0;
  for (size_t r = 0; r < n; ++r) n_test += (is_test[r] = all.timestamps[r] >= cutoff);
  if (n_test == 0 || n_test == n) {
    const auto [lo, hi] = std::minmax_element(all.timestamps.begin(), all.timestamps.end());
    throw Error(
        key + ": the cut-off at time " + std::to_string(cutoff) + " leaves an empty " +
        (n_test == 0 ? "test" : "training") + " set (the ratings' times run from " +
        std::to_string(*lo) + " to " + std::to_string(*hi) +
        (test_fraction ? "; ratings sharing the cut-off's time all go to the test set)" : ")"));
  }
  return by_flags(all, is_test);
}

void drop_unseen_from_test(Split& split) {
  std::vector<bool> user_seen, item_seen;
  auto mark = [](std::vector<bool>& seen, int32_t id) {
    if (static_cast<size_t>(id) >= seen.size()) seen.resize(static_cast<size_t>(id) + 1, false);
    seen[static_cast<size_t>(id)] = true;
  };
  for (size_t r = 0; r < split.train.size(); ++r) {
    mark(user_seen, split.train.users[r]);
    mark(item_seen, split.train.items[r]);
  }
  auto seen = [](const std::vector<bool>& s, int32_t id) {
    return static_cast<size_t>(id) < s.size() && s[static_cast<size_t>(id)];
  };
  std::vector<int64_t> keep;
  for (size_t r = 0; r < split.valid.size(); ++r) {
    if (seen(user_seen, split.valid.users[r]) && seen(item_seen, split.valid.items[r])) {
      keep.push_back(static_cast<int64_t>(r));
    }
  }
  split.dropped_unseen += static_cast<int64_t>(split.valid.size() - keep.size());
  split.valid = split.valid.select(keep);
}

namespace {

// One seeded shuffle of all rows, grouped by user (stable): each user's rows in an order as
// random as a shuffle of their own, for one permutation instead of one per user.
std::vector<int64_t> shuffled_by_user(const Ratings& all, uint64_t seed) {
  std::vector<int64_t> order = seeded_permutation(static_cast<int64_t>(all.size()), seed);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return all.users[static_cast<size_t>(a)] < all.users[static_cast<size_t>(b)];
  });
  return order;
}

}  // namespace

CappedRatings cap_ratings_per_user(const Ratings& all, int64_t max_per_user, uint64_t seed) {
  const auto n = static_cast<int64_t>(all.size());
  const std::vector<int64_t> order = shuffled_by_user(all, seed);
  std::vector<bool> dropped(static_cast<size_t>(n), false);
  CappedRatings out;
  for (int64_t start = 0; start < n;) {
    const int32_t user = all.users[static_cast<size_t>(order[static_cast<size_t>(start)])];
    int64_t end = start;
    while (end < n && all.users[static_cast<size_t>(order[static_cast<size_t>(end)])] == user) {
      ++end;
    }
    if (end - start > max_per_user) {
      ++out.users_capped;
      for (int64_t k = start + max_per_user; k < end; ++k) {
        dropped[static_cast<size_t>(order[static_cast<size_t>(k)])] = true;
      }
    }
    start = end;
  }
  Split parts = by_flags(all, dropped);
  out.kept = std::move(parts.train);
  out.dropped = std::move(parts.valid);
  return out;
}

Split stratified_split(const Ratings& all, double valid_pct, uint64_t seed,
                       const std::string& section) {
  const auto n = static_cast<int64_t>(all.size());
  const std::vector<int64_t> order = shuffled_by_user(all, seed);
  std::vector<bool> is_test(static_cast<size_t>(n), false);
  int64_t n_test = 0;
  for (int64_t start = 0; start < n;) {
    const int32_t user = all.users[static_cast<size_t>(order[static_cast<size_t>(start)])];
    int64_t end = start;
    while (end < n && all.users[static_cast<size_t>(order[static_cast<size_t>(end)])] == user) {
      ++end;
    }
    const int64_t count = end - start;
    if (count >= 2) {
      // At least one rating on each side, so every such user is both trained and tested.
      const auto take =
          std::clamp<int64_t>(std::llround(valid_pct * static_cast<double>(count)), 1, count - 1);
      for (int64_t k = start; k < start + take; ++k) {
        is_test[static_cast<size_t>(order[static_cast<size_t>(k)])] = true;
      }
      n_test += take;
    }
    start = end;
  }
  if (n_test == 0) {
    throw Error(section + ": no user of these " + std::to_string(n) +
                " ratings has 2 or more, so a per-user split leaves an empty test set");
  }
  return by_flags(all, is_test);
}

}  // namespace collab
