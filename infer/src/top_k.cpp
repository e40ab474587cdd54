#include "collab/infer/top_k.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace collab {

std::vector<ScoredItem> top_k(const torch::Tensor& scores, int64_t k,
                              const std::vector<int64_t>& exclude) {
  const torch::Tensor s = scores.detach().to(torch::kCPU, torch::kDouble).contiguous().view(-1);
  const int64_t n = s.numel();
  const double* v = s.data_ptr<double>();
  std::vector<char> excluded(static_cast<size_t>(n), 0);
  for (const int64_t i : exclude) {
    if (i >= 0 && i < n) excluded[static_cast<size_t>(i)] = 1;
  }
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (!excluded[static_cast<size_t>(i)]) order.push_back(i);
  }
  // NaN sorts below everything so a broken score never reaches the top of a list.
  const auto key = [v](int64_t i) {
    return std::isnan(v[i]) ? -std::numeric_limits<double>::infinity() : v[i];
  };
  const auto better = [&](int64_t a, int64_t b) {
    return key(a) != key(b) ? key(a) > key(b) : a < b;
  };
  const size_t take = k <= 0 ? order.size() : std::min(order.size(), static_cast<size_t>(k));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(take), order.end(),
                    better);
  std::vector<ScoredItem> out;
  out.reserve(take);
  for (size_t r = 0; r < take; ++r) out.push_back({order[r], v[order[r]]});
  return out;
}

namespace {

// top_k's order on raw floats: NaN below everything, then higher scores, then lower indices.
bool ranks_before(float x, int64_t a, float y, int64_t b) {
  const bool x_nan = std::isnan(x), y_nan = std::isnan(y);
  if (x_nan != y_nan) return y_nan;
  if (!x_nan && x != y) return x > y;
  return a < b;
}

}  // namespace

std::vector<ScoredItem> top_k_of_row(const float* scores, int64_t n_items,
                                     const std::vector<int64_t>& sorted_exclude, int64_t k) {
  const size_t take = k <= 0 ? static_cast<size_t>(n_items)
                             : static_cast<size_t>(std::min<int64_t>(k, n_items));
  struct Entry {
    float score;
    int64_t item;
  };
  // A heap whose top is the worst entry kept: a candidate enters only when it ranks before that
  // one, so most items cost one comparison. Items arrive in increasing order, so an equal score
  // never displaces a kept (lower) index, as top_k's tie rule wants.
  const auto worse_first = [](const Entry& a, const Entry& b) {
    return ranks_before(a.score, a.item, b.score, b.item);
  };
  std::vector<Entry> kept;
  kept.reserve(take);
  // Once the heap is full, `bar` is its worst score: the hot loop only compares with it (an
  // equal score is a later index, which never ranks before). A NaN worst lets any number in.
  float bar = std::numeric_limits<float>::quiet_NaN();
  bool bar_is_nan = true;
  const auto consider = [&](int64_t i) {
    if (kept.size() < take) {
      kept.push_back({scores[i], i});
      std::push_heap(kept.begin(), kept.end(), worse_first);
    } else if (ranks_before(scores[i], i, kept.front().score, kept.front().item)) {
      std::pop_heap(kept.begin(), kept.end(), worse_first);
      kept.back() = {scores[i], i};
      std::push_heap(kept.begin(), kept.end(), worse_first);
    } else {
      return;
    }
    if (kept.size() == take) {
      bar = kept.front().score;
      bar_is_nan = std::isnan(bar);
    }
  };
  // The stretches between excluded items, each scanned without looking at the exclusions.
  auto skip = sorted_exclude.begin();
  for (int64_t begin = 0; begin < n_items && take > 0;) {
    while (skip != sorted_exclude.end() && *skip < begin) ++skip;
    const int64_t end = skip == sorted_exclude.end() ? n_items : std::min(*skip, n_items);
    for (int64_t i = begin; i < end; ++i) {
      if (kept.size() < take || bar_is_nan || scores[i] > bar) consider(i);
    }
    begin = end + 1;  // past the excluded item (or n_items)
  }
  std::sort_heap(kept.begin(), kept.end(), worse_first);
  std::vector<ScoredItem> out;
  out.reserve(kept.size());
  for (const Entry& e : kept) out.push_back({e.item, static_cast<double>(e.score)});
  return out;
}

}  // namespace collab
