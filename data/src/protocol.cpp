#include "collab/data/protocol.h"

#include <algorithm>
#include <numeric>

#include <torch/torch.h>

#include "collab/common/error.h"
#include "collab/common/utf8.h"

namespace collab {

namespace {

struct ProtocolKeys {
  const char* name;
  ProtocolKind kind;
  std::vector<std::string> keys;  // the keys this protocol reads
};

const std::vector<ProtocolKeys>& protocols() {
  static const std::vector<ProtocolKeys> table = {
      {"random", ProtocolKind::kRandom, {"seeds", "valid_pct"}},
      {"predefined_kfold",
       ProtocolKind::kPredefinedKFold,
       {"folds", "train_pattern", "test_pattern"}},
      {"kfold", ProtocolKind::kKFold, {"folds", "seed"}},
      {"leave_last_k_out", ProtocolKind::kLeaveLastKOut, {"holdout"}},
  };
  return table;
}

std::string replace_fold(const std::string& pattern, int64_t fold) {
  std::string out = pattern;
  const std::string token = "{fold}";
  for (size_t pos; (pos = out.find(token)) != std::string::npos;) {
    out.replace(pos, token.size(), std::to_string(fold));
  }
  return out;
}

}  // namespace

ProtocolConfig read_protocol_config(ConfigReader& eval) {
  std::vector<std::string> names;
  for (const auto& p : protocols()) names.emplace_back(p.name);
  ProtocolConfig c;
  c.name = eval.choice("protocol", names, std::string("predefined_kfold"));
  const ProtocolKeys* chosen = nullptr;
  for (const auto& p : protocols()) {
    if (c.name == p.name) chosen = &p;
  }
  c.kind = chosen->kind;
  // A key of another protocol is most likely a protocol switched without cleaning up: say so
  // rather than call it unknown.
  for (const auto& p : protocols()) {
    for (const auto& key : p.keys) {
      const auto& own = chosen->keys;
      if (eval.has(key) && std::find(own.begin(), own.end(), key) == own.end()) {
        eval.fail(key,
                  "not used by protocol \"" + c.name + "\" (it belongs to \"" + p.name + "\")");
      }
    }
  }
  switch (c.kind) {
    case ProtocolKind::kRandom: {
      const std::vector<int64_t> seeds = eval.integers("seeds", {42}, /*min=*/0);
      if (seeds.empty()) eval.fail("seeds", "expected at least one seed, got []");
      c.seeds.assign(seeds.begin(), seeds.end());
      c.valid_pct = eval.number("valid_pct", 0.2, {0, 1, false, false, "a number in (0, 1)"});
      break;
    }
    case ProtocolKind::kPredefinedKFold:
      c.folds = eval.integer("folds", 5, /*min=*/1);
      c.train_pattern = eval.string("train_pattern", c.train_pattern);
      c.test_pattern = eval.string("test_pattern", c.test_pattern);
      for (const auto& [key, value] :
           {std::pair<const char*, const std::string&>{"train_pattern", c.train_pattern},
            {"test_pattern", c.test_pattern}}) {
        if (c.folds > 1 && value.find("{fold}") == std::string::npos) {
          eval.fail(key, "expected a file name holding {fold} (e.g. \"u{fold}.base\"), got " +
                             quoted_for_message(value));
        }
      }
      break;
    case ProtocolKind::kKFold:
      c.folds = eval.integer("folds", 5, /*min=*/2);
      c.seed = static_cast<uint64_t>(eval.integer("seed", 42, /*min=*/0));
      break;
    case ProtocolKind::kLeaveLastKOut:
      c.holdout = eval.integer("holdout", 1, /*min=*/1);
      break;
  }
  return c;
}

int64_t fold_count(const ProtocolConfig& p) {
  switch (p.kind) {
    case ProtocolKind::kRandom:
      return static_cast<int64_t>(p.seeds.size());
    case ProtocolKind::kPredefinedKFold:
    case ProtocolKind::kKFold:
      return p.folds;
    case ProtocolKind::kLeaveLastKOut:
      return 1;
  }
  return 0;
}

std::string fold_name(const ProtocolConfig& p, int64_t index) {
  switch (p.kind) {
    case ProtocolKind::kRandom:
      return "seed" + std::to_string(p.seeds.at(static_cast<size_t>(index)));
    case ProtocolKind::kPredefinedKFold: {
      // "u1" from "u{fold}.base": the pattern up to its extension.
      std::string name = replace_fold(p.train_pattern, index + 1);
      if (const auto dot = name.rfind('.'); dot != std::string::npos && dot > 0) name.resize(dot);
      if (const auto slash = name.rfind('/'); slash != std::string::npos) name.erase(0, slash + 1);
      return name;
    }
    case ProtocolKind::kKFold:
      return "fold" + std::to_string(index + 1);
    case ProtocolKind::kLeaveLastKOut:
      return "last" + std::to_string(p.holdout);
  }
  return {};
}

DataConfig fold_data_config(const DataConfig& data, const ProtocolConfig& p, int64_t index) {
  DataConfig d = data;
  if (p.kind == ProtocolKind::kRandom) {
    if (d.ratings.empty()) throw Error("eval.protocol \"random\" needs data.ratings");
    d.split_seed = p.seeds.at(static_cast<size_t>(index));
    d.valid_pct = p.valid_pct;
    d.train.clear();
    d.valid.clear();
  } else if (p.kind == ProtocolKind::kPredefinedKFold) {
    d.train =
        resolve_path(replace_fold(p.train_pattern, index + 1), data.dir, "eval.train_pattern");
    d.valid = resolve_path(replace_fold(p.test_pattern, index + 1), data.dir, "eval.test_pattern");
    d.ratings.clear();
  } else {
    throw Error("eval.protocol \"" + p.name + "\" has no equivalent collab train data section");
  }
  return d;
}

Dataset load_fold(const DataConfig& data, const ProtocolConfig& p, int64_t index) {
  if (p.kind == ProtocolKind::kRandom || p.kind == ProtocolKind::kPredefinedKFold) {
    return load_dataset(fold_data_config(data, p, index));
  }
  if (data.ratings.empty()) {
    throw Error("eval.protocol \"" + p.name + "\" splits one ratings file: set data.ratings");
  }
  Dataset d;
  load_item_catalog(data, d);
  const Ratings all = read_ratings(data.ratings, data.format, d.users, d.items);
  check_rated_items_titled(data, d, data.ratings);
  Split split = p.kind == ProtocolKind::kKFold ? kfold_split(all, p.folds, p.seed, index)
                                               : leave_last_k_out(all, p.holdout);
  if (split.valid.size() == 0) {
    throw Error(data.ratings + ": eval.protocol \"" + p.name + "\" leaves an empty test set");
  }
  d.train = std::move(split.train);
  d.valid = std::move(split.valid);
  if (!d.catalog.empty()) d.catalog.resize(d.items.size());
  count_unseen_in_validation(d);
  return d;
}

Split kfold_split(const Ratings& all, int64_t folds, uint64_t seed, int64_t index) {
  const auto n = static_cast<int64_t>(all.size());
  if (folds < 2 || folds > n) {
    throw Error("eval.folds: " + std::to_string(folds) + " folds of " + std::to_string(n) +
                " ratings (expected 2 to the number of ratings)");
  }
  if (index < 0 || index >= folds) throw Error("fold index out of range");
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor perm = torch::randperm(n, generator, torch::kLong);
  const int64_t* p = perm.data_ptr<int64_t>();
  const int64_t begin = index * n / folds, end = (index + 1) * n / folds;
  std::vector<bool> is_test(static_cast<size_t>(n), false);
  for (int64_t k = begin; k < end; ++k) is_test[static_cast<size_t>(p[k])] = true;
  std::vector<int64_t> train_rows, test_rows;
  for (int64_t r = 0; r < n; ++r)
    (is_test[static_cast<size_t>(r)] ? test_rows : train_rows).push_back(r);
  return {all.select(train_rows), all.select(test_rows)};
}

Split leave_last_k_out(const Ratings& all, int64_t holdout) {
  const auto n = static_cast<int64_t>(all.size());
  // Rows grouped by user, each group in time order (stable: ties keep file order).
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const auto i = static_cast<size_t>(a), j = static_cast<size_t>(b);
    if (all.users[i] != all.users[j]) return all.users[i] < all.users[j];
    return all.timestamp(i) < all.timestamp(j);
  });
  std::vector<bool> is_test(static_cast<size_t>(n), false);
  for (int64_t start = 0; start < n;) {
    int64_t end = start;
    while (end < n && all.users[static_cast<size_t>(order[static_cast<size_t>(end)])] ==
                          all.users[static_cast<size_t>(order[static_cast<size_t>(start)])]) {
      ++end;
    }
    if (end - start > holdout) {
      for (int64_t k = end - holdout; k < end; ++k) {
        is_test[static_cast<size_t>(order[static_cast<size_t>(k)])] = true;
      }
    }
    start = end;
  }
  std::vector<int64_t> train_rows, test_rows;
  for (int64_t r = 0; r < n; ++r)
    (is_test[static_cast<size_t>(r)] ? test_rows : train_rows).push_back(r);
  return {all.select(train_rows), all.select(test_rows)};
}

}  // namespace collab
