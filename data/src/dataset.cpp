#include "collab/data/dataset.h"

#include <unordered_set>
#include <vector>

#include "collab/data/split.h"

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

void count_duplicate_ratings(Dataset& d) {
  std::unordered_set<int64_t> seen;
  d.duplicate_ratings = 0;
  d.first_duplicate.clear();
  const int64_t n_items = d.items.size();
  for (const Ratings* part : {&d.train, &d.valid}) {
    for (size_t k = 0; k < part->size(); ++k) {
      if (seen.insert(part->users[k] * n_items + part->items[k]).second) continue;
      if (d.duplicate_ratings++ == 0) {
        d.first_duplicate =
            "user " + d.users.raw(part->users[k]) + ", item " + d.items.raw(part->items[k]);
      }
    }
  }
}

Dataset load_dataset(const DataConfig& config) {
  Dataset d;
  if (!config.items.empty()) d.catalog = read_movielens_items(config.items, d.items);
  auto read = [&](const std::string& path) {
    d.reads.emplace_back();
    return merge_into_vocabularies(
        read_parsed_ratings(path, config.format, config.cache, &d.reads.back()), d.users, d.items);
  };
  if (config.predefined_split()) {
    d.train = read(config.train);
    d.valid = read(config.valid);
  } else {
    Split split = random_split(read(config.ratings), config.valid_pct, config.split_seed);
    d.train = std::move(split.train);
    d.valid = std::move(split.valid);
  }
  if (!d.catalog.empty()) d.catalog.resize(d.items.size());
  count_unseen_in_validation(d);
  count_duplicate_ratings(d);
  return d;
}

}  // namespace collab
