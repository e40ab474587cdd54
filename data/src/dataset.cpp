#include "collab/data/dataset.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <vector>

#include "collab/common/error.h"
#include "collab/data/protocol.h"

namespace collab {

namespace {

int64_t count_unseen(const std::vector<int32_t>& train_ids, const std::vector<int32_t>& valid_ids,
                     int64_t vocab_size) {
  std::vector<bool> seen(static_cast<size_t>(vocab_size), false);
  for (const int32_t i : train_ids) seen[static_cast<size_t>(i)] = true;
  int64_t unseen = 0;
  for (const int32_t i : valid_ids) unseen += !seen[static_cast<size_t>(i)];
  return unseen;
}

}  // namespace

void count_unseen_in_validation(Dataset& d) {
  d.valid_unseen_users = count_unseen(d.train.users, d.valid.users, d.users.size());
  d.valid_unseen_items = count_unseen(d.train.items, d.valid.items, d.items.size());
}

void count_duplicate_ratings(Dataset& d, int64_t rows_per_pass) {
  d.duplicate_ratings = 0;
  d.first_duplicate.clear();
  const Ratings* parts[] = {&d.train, &d.valid};
  const auto n_users = static_cast<size_t>(d.users.size());
  // A pair is one uint64: item << kRowBits | row, where row numbers the train then the
  // validation ratings in reading order; sorting pairs sorts by item, then row.
  constexpr int kRowBits = 33;
  if (d.train.size() + d.valid.size() >= (size_t{1} << kRowBits)) {
    throw Error("more than 2^33 ratings");
  }
  std::vector<int64_t> user_rows(n_users, 0);
  for (const Ratings* part : parts) {
    for (const int32_t u : part->users) ++user_rows[static_cast<size_t>(u)];
  }
  // Passes over consecutive users holding at most rows_per_pass ratings (a user with more takes
  // a pass alone); the buffer is sized once for the largest.
  std::vector<size_t> pass_end;
  int64_t largest = 0;
  for (size_t u0 = 0; u0 < n_users;) {
    size_t u1 = u0 + 1;
    int64_t rows = user_rows[u0];
    while (u1 < n_users && rows + user_rows[u1] <= rows_per_pass) rows += user_rows[u1++];
    pass_end.push_back(u1);
    largest = std::max(largest, rows);
    u0 = u1;
  }
  std::vector<uint64_t> pairs;
  pairs.reserve(static_cast<size_t>(largest));
  std::vector<int64_t> next, starts;
  int64_t first_row = -1;
  size_t u0 = 0;
  for (const size_t u1 : pass_end) {
    // This pass's pairs grouped by user; each user's sorted pairs show its repeats.
    starts.assign(u1 - u0 + 1, 0);
    for (size_t u = u0; u < u1; ++u) starts[u - u0 + 1] = starts[u - u0] + user_rows[u];
    next = starts;
    pairs.resize(static_cast<size_t>(starts.back()));
    uint64_t row = 0;
    for (const Ratings* part : parts) {
      for (size_t k = 0; k < part->size(); ++k, ++row) {
        const auto u = static_cast<size_t>(part->users[k]);
        if (u < u0 || u >= u1) continue;
        pairs[static_cast<size_t>(next[u - u0]++)] =
            static_cast<uint64_t>(part->items[k]) << kRowBits | row;
      }
    }
    for (size_t g = 0; g + 1 < starts.size(); ++g) {
      const auto first = pairs.begin() + starts[g], last = pairs.begin() + starts[g + 1];
      std::sort(first, last);
      for (auto p = first; p != last; ++p) {
        if (p == first || *p >> kRowBits != *(p - 1) >> kRowBits) continue;
        ++d.duplicate_ratings;
        const auto r = static_cast<int64_t>(*p & ((uint64_t{1} << kRowBits) - 1));
        if (first_row < 0 || r < first_row) first_row = r;
      }
    }
    u0 = u1;
  }
  if (first_row >= 0) {
    const auto train_rows = static_cast<int64_t>(d.train.size());
    const Ratings& part = first_row < train_rows ? d.train : d.valid;
    const auto k = static_cast<size_t>(first_row < train_rows ? first_row : first_row - train_rows);
    d.first_duplicate =
        "user " + d.users.raw(part.users[k]) + ", item " + d.items.raw(part.items[k]);
  }
}

void load_item_catalog(const DataConfig& config, Dataset& d) {
  if (config.items.empty()) return;
  if (config.item_key == ItemKey::kId) {
    d.catalog = read_item_catalog(config.items, config.items_format, d.items);
    return;
  }
  Vocabulary ids;
  const ItemCatalog by_id = read_item_catalog(config.items, config.items_format, ids);
  d.catalog = key_catalog_by_title(by_id, ids, config.items, d.items);
}

void check_rated_items_titled(const DataConfig& config, const Dataset& d, const std::string& path) {
  if (config.item_key != ItemKey::kTitle) return;
  const auto titles = static_cast<int64_t>(d.catalog.genres.size());
  if (d.items.size() > titles) {
    throw Error(path + ": item " + d.items.raw(titles) + " is not in " + config.items +
                ", so it has no title; data.item_key \"title\" needs every rated item there (or "
                "use \"id\")");
  }
}

Dataset load_dataset(const DataConfig& config) {
  Dataset d;
  load_item_catalog(config, d);
  auto read = [&](const std::string& path) {
    d.reads.emplace_back();
    Ratings r = merge_into_vocabularies(
        read_parsed_ratings(path, config.format, config.cache, &d.reads.back()), d.users, d.items);
    check_rated_items_titled(config, d, path);
    return r;
  };
  if (config.predefined_split()) {
    d.train = read(config.train);
    d.valid = read(config.valid);
  } else {
    Split split = split_ratings(read(config.ratings), config);
    d.train = std::move(split.train);
    d.valid = std::move(split.valid);
    d.valid_dropped_unseen = split.dropped_unseen;
  }
  if (config.max_ratings_per_user > 0) {
    CappedRatings capped =
        cap_ratings_per_user(d.train, config.max_ratings_per_user, config.split_seed);
    d.train = std::move(capped.kept);
    d.capped_out = std::move(capped.dropped);
    d.users_capped = capped.users_capped;
  }
  if (!d.catalog.empty()) d.catalog.resize(d.items.size());
#ifdef __GLIBC__
  // Reading leaves freed but unreturned heap behind (the parser's own id tables, vectors that
  // grew by doubling): 20 MB after parsing 20M ratings' text. Hand it back before the
  // duplicate count's buffer and training's model join the ratings for the rest of the run.
  malloc_trim(0);
#endif
  count_unseen_in_validation(d);
  count_duplicate_ratings(d);
  return d;
}

}  // namespace collab
