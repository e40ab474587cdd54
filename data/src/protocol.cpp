#include "collab/data/protocol.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <torch/torch.h>

#include "collab/common/error.h"
#include "collab/common/utf8.h"

namespace collab {

namespace {

// One kind of split: its name and keys in compare's `eval` section and in a run's `data.split`.
struct ProtocolKeys {
  const char* eval_name;
  const char* split_name;
  ProtocolKind kind;
  std::vector<std::string> eval_keys;
  std::vector<std::string> split_keys;
};

const std::vector<ProtocolKeys>& protocols() {
  static const std::vector<ProtocolKeys> table = {
      {"random", "random", ProtocolKind::kRandom, {"seeds", "valid_pct"}, {"seed", "valid_pct"}},
      {"predefined_kfold",
       "predefined",
       ProtocolKind::kPredefinedKFold,
       {"folds", "train_pattern", "test_pattern"},
       {"train", "valid"}},
      {"kfold", "kfold", ProtocolKind::kKFold, {"folds", "seed"}, {"folds", "seed", "fold"}},
      {"leave_last_k_out",
       "leave_last_k_out",
       ProtocolKind::kLeaveLastKOut,
       {"holdout"},
       {"holdout"}},
      {"temporal",
       "temporal",
       ProtocolKind::kTemporal,
       {"before", "test_fraction", "unseen"},
       {"before", "test_fraction", "unseen"}},
      {"stratified",
       "stratified",
       ProtocolKind::kStratified,
       {"seeds", "valid_pct"},
       {"seed", "valid_pct"}},
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

// Reads the kind under `kind_key` and rejects the keys of the other kinds: such a key is most
// likely a kind switched without cleaning up, so the error says whose key it is rather than
// calling it unknown.
const ProtocolKeys& read_kind(ConfigReader& r, const std::string& kind_key, bool single,
                              const std::string& fallback) {
  std::vector<std::string> names;
  for (const auto& p : protocols()) names.emplace_back(single ? p.split_name : p.eval_name);
  const std::string name = r.choice(kind_key, names, fallback);
  const ProtocolKeys* chosen = nullptr;
  for (const auto& p : protocols()) {
    if (name == (single ? p.split_name : p.eval_name)) chosen = &p;
  }
  const auto& own = single ? chosen->split_keys : chosen->eval_keys;
  for (const auto& p : protocols()) {
    for (const auto& key : single ? p.split_keys : p.eval_keys) {
      if (r.has(key) && std::find(own.begin(), own.end(), key) == own.end()) {
        r.fail(key, "not used by " + kind_key + " \"" + name + "\" (it belongs to \"" +
                        (single ? p.split_name : p.eval_name) + "\")");
      }
    }
  }
  return *chosen;
}

// The temporal cut-off: data.split.before (unix seconds) or test_fraction (default 0.2).
void read_temporal(ConfigReader& r, ProtocolConfig& c) {
  if (r.has("before") && r.has("test_fraction")) {
    r.fail("test_fraction",
           "give the cut-off either as \"before\" (a time) or as "
           "\"test_fraction\" (the latest ratings' share), not both");
  }
  if (r.has("before")) {
    c.before = r.integer("before");
  } else {
    c.test_fraction = r.number("test_fraction", 0.2, {0, 1, false, false, "a number in (0, 1)"});
  }
  c.drop_unseen = r.choice("unseen", {"keep", "drop"}, std::string("keep")) == "drop";
}

// The keys of c.kind other than the predefined split's files.
void read_kind_keys(ConfigReader& r, ProtocolConfig& c) {
  switch (c.kind) {
    case ProtocolKind::kRandom:
    case ProtocolKind::kStratified: {
      if (c.single) {
        c.seeds = {static_cast<uint64_t>(r.integer("seed", 42, /*min=*/0))};
      } else {
        const std::vector<int64_t> seeds = r.integers("seeds", {42}, /*min=*/0);
        if (seeds.empty()) r.fail("seeds", "expected at least one seed, got []");
        c.seeds.assign(seeds.begin(), seeds.end());
      }
      c.valid_pct = r.number("valid_pct", 0.2, {0, 1, false, false, "a number in (0, 1)"});
      break;
    }
    case ProtocolKind::kPredefinedKFold:
      c.folds = r.integer("folds", 5, /*min=*/1);
      c.train_pattern = r.string("train_pattern", c.train_pattern);
      c.test_pattern = r.string("test_pattern", c.test_pattern);
      for (const auto& [key, value] :
           {std::pair<const char*, const std::string&>{"train_pattern", c.train_pattern},
            {"test_pattern", c.test_pattern}}) {
        if (c.folds > 1 && value.find("{fold}") == std::string::npos) {
          r.fail(key, "expected a file name holding {fold} (e.g. \"u{fold}.base\"), got " +
                          quoted_for_message(value));
        }
      }
      break;
    case ProtocolKind::kKFold:
      c.folds = r.integer("folds", 5, /*min=*/2);
      c.seed = static_cast<uint64_t>(r.integer("seed", 42, /*min=*/0));
      if (c.single) c.fold = r.integer("fold", 1, /*min=*/1, /*max=*/c.folds) - 1;
      break;
    case ProtocolKind::kLeaveLastKOut:
      c.holdout = r.integer("holdout", 1, /*min=*/1);
      break;
    case ProtocolKind::kTemporal:
      read_temporal(r, c);
      break;
  }
}

// The key that named p's kind, for messages: "eval.protocol" or "data.split.kind".
std::string kind_key(const ProtocolConfig& p) {
  return p.section == "eval" ? "eval.protocol" : p.section + ".kind";
}

}  // namespace

ProtocolConfig read_protocol_config(ConfigReader& eval) {
  ProtocolConfig c;
  const ProtocolKeys& keys = read_kind(eval, "protocol", false, "predefined_kfold");
  c.name = keys.eval_name;
  c.kind = keys.kind;
  read_kind_keys(eval, c);
  return c;
}

ProtocolConfig read_split_config(ConfigReader& split, const std::string& data_dir) {
  ProtocolConfig c;
  c.single = true;
  c.section = split.path_of("");
  if (!c.section.empty() && c.section.back() == '.') c.section.pop_back();
  const ProtocolKeys& keys = read_kind(split, "kind", true, "random");
  c.name = keys.split_name;
  c.kind = keys.kind;
  if (c.kind == ProtocolKind::kPredefinedKFold) {
    // One fold whose "patterns" are the two files, resolved like data.train and data.valid.
    c.folds = 1;
    for (const char* key : {"train", "valid"}) {
      if (!split.has(key)) {
        split.fail(key, "missing; data.split \"predefined\" needs both \"train\" and \"valid\"");
      }
      std::string path = resolve_path(split.string(key), data_dir, split.path_of(key));
      split.set_resolved(key, path);
      (std::string(key) == "train" ? c.train_pattern : c.test_pattern) = path;
    }
  } else {
    read_kind_keys(split, c);
  }
  split.finish();
  return c;
}

Split split_ratings(const Ratings& all, const DataConfig& data) {
  const ProtocolConfig& p = data.split;
  Split split;
  switch (p.kind) {
    case ProtocolKind::kRandom:
      return random_split(all, data.valid_pct, data.split_seed, p.section + ".valid_pct");
    case ProtocolKind::kPredefinedKFold:
      throw Error("a predefined split reads data.train and data.valid, not data.ratings");
    case ProtocolKind::kKFold:
      split = kfold_split(all, p.folds, p.seed, p.fold);
      break;
    case ProtocolKind::kLeaveLastKOut:
      split = leave_last_k_out(all, p.holdout);
      break;
    case ProtocolKind::kTemporal:
      split = temporal_split(all, p.before, p.test_fraction, p.section);
      if (p.drop_unseen) drop_unseen_from_test(split);
      break;
    case ProtocolKind::kStratified:
      split = stratified_split(all, p.valid_pct, p.seeds.at(0), p.section);
      break;
  }
  if (split.valid.size() == 0) {
    throw Error(data.ratings + ": " + kind_key(p) + " \"" + p.name + "\" leaves an empty test set" +
                (split.dropped_unseen > 0
                     ? " (after dropping the " + std::to_string(split.dropped_unseen) +
                           " ratings of users or items unseen in training)"
                     : ""));
  }
  return split;
}

int64_t fold_count(const ProtocolConfig& p) {
  if (p.single) return 1;
  switch (p.kind) {
    case ProtocolKind::kRandom:
    case ProtocolKind::kStratified:
      return static_cast<int64_t>(p.seeds.size());
    case ProtocolKind::kPredefinedKFold:
    case ProtocolKind::kKFold:
      return p.folds;
    case ProtocolKind::kLeaveLastKOut:
    case ProtocolKind::kTemporal:
      return 1;
  }
  return 0;
}

std::string fold_name(const ProtocolConfig& p, int64_t index) {
  switch (p.kind) {
    case ProtocolKind::kRandom:
    case ProtocolKind::kStratified:
      return "seed" + std::to_string(p.seeds.at(static_cast<size_t>(index)));
    case ProtocolKind::kPredefinedKFold: {
      // "u1" from "u{fold}.base": the pattern up to its extension.
      std::string name = replace_fold(p.train_pattern, index + 1);
      if (const auto dot = name.rfind('.'); dot != std::string::npos && dot > 0) name.resize(dot);
      if (const auto slash = name.rfind('/'); slash != std::string::npos) name.erase(0, slash + 1);
      return name;
    }
    case ProtocolKind::kKFold:
      return "fold" + std::to_string((p.single ? p.fold : index) + 1);
    case ProtocolKind::kLeaveLastKOut:
      return "last" + std::to_string(p.holdout);
    case ProtocolKind::kTemporal:
      if (p.before) return "before" + std::to_string(*p.before);
      return "latest" + std::to_string(static_cast<int>(std::lround(*p.test_fraction * 100))) +
             "pct";
  }
  return {};
}

DataConfig fold_data_config(const DataConfig& data, const ProtocolConfig& p, int64_t index) {
  if (p.single) return data;
  DataConfig d = data;
  if (p.kind == ProtocolKind::kPredefinedKFold) {
    d.train =
        resolve_path(replace_fold(p.train_pattern, index + 1), data.dir, "eval.train_pattern");
    d.valid = resolve_path(replace_fold(p.test_pattern, index + 1), data.dir, "eval.test_pattern");
    d.ratings.clear();
    d.split.kind = ProtocolKind::kPredefinedKFold;
    d.split.name = "predefined";
    return d;
  }
  if (d.ratings.empty()) {
    throw Error("eval.protocol \"" + p.name + "\" splits one ratings file: set data.ratings");
  }
  d.train.clear();
  d.valid.clear();
  d.split = p;
  d.split.single = true;
  if (p.kind == ProtocolKind::kKFold) d.split.fold = index;
  if (p.kind == ProtocolKind::kRandom || p.kind == ProtocolKind::kStratified) {
    d.split.seeds = {p.seeds.at(static_cast<size_t>(index))};
  }
  if (p.kind == ProtocolKind::kRandom) {
    d.split_seed = d.split.seeds[0];
    d.valid_pct = p.valid_pct;
  }
  return d;
}

Dataset load_fold(const DataConfig& data, const ProtocolConfig& p, int64_t index) {
  return load_dataset(fold_data_config(data, p, index));
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
