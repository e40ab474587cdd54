#include "collab/train/block_grid.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "collab/common/error.h"

namespace collab {

namespace {

// splitmix64: a small, fast, seeded generator for the one-off shuffle.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for n < 2^32).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
};

void swap_rows(Ratings& r, size_t a, size_t b) {
  std::swap(r.users[a], r.users[b]);
  std::swap(r.items[a], r.items[b]);
  r.ratings.swap_rows(a, b);
}

}  // namespace

std::vector<uint16_t> balanced_ranges(const std::vector<int64_t>& counts, int64_t parts) {
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  std::vector<uint16_t> range(counts.size(), 0);
  int64_t before = 0;
  for (size_t r = 0; r < counts.size(); ++r) {
    // The range holding the row's middle rating, so ranges stay contiguous and ordered.
    const double middle = static_cast<double>(before) + 0.5 * static_cast<double>(counts[r]);
    const auto part = total == 0 ? static_cast<int64_t>(r * static_cast<size_t>(parts) /
                                                        std::max<size_t>(1, counts.size()))
                                 : static_cast<int64_t>(middle * static_cast<double>(parts) /
                                                        static_cast<double>(total));
    range[r] = static_cast<uint16_t>(std::min(parts - 1, part));
    before += counts[r];
  }
  return range;
}

BlockGrid partition_into_blocks(Ratings& ratings, int64_t n_users, int64_t n_items, int64_t blocks,
                                uint64_t seed, int64_t threads) {
  if (blocks < 1 || blocks > 4096) {
    throw Error("train.blocks: expected 1..4096 blocks per side, got " + std::to_string(blocks));
  }
  ratings.timestamps.clear();
  ratings.timestamps.shrink_to_fit();
  const size_t n = ratings.size();
  std::vector<int64_t> user_counts(static_cast<size_t>(n_users), 0);
  std::vector<int64_t> item_counts(static_cast<size_t>(n_items), 0);
  for (size_t k = 0; k < n; ++k) {
    ++user_counts[static_cast<size_t>(ratings.users[k])];
    ++item_counts[static_cast<size_t>(ratings.items[k])];
  }
  BlockGrid grid;
  grid.size = blocks;
  grid.user_range = balanced_ranges(user_counts, blocks);
  grid.item_range = balanced_ranges(item_counts, blocks);
  auto block_of = [&](size_t k) {
    return static_cast<size_t>(grid.user_range[static_cast<size_t>(ratings.users[k])]) *
               static_cast<size_t>(blocks) +
           grid.item_range[static_cast<size_t>(ratings.items[k])];
  };
  const auto n_blocks = static_cast<size_t>(blocks * blocks);
  grid.offsets.assign(n_blocks + 1, 0);
  for (size_t k = 0; k < n; ++k) ++grid.offsets[block_of(k) + 1];
  for (size_t b = 0; b < n_blocks; ++b) grid.offsets[b + 1] += grid.offsets[b];
  // In-place bucket permutation (American flag sort): each rating is swapped straight into the
  // next free slot of its block, so no second copy of the ratings is ever held.
  std::vector<int64_t> next(grid.offsets.begin(), grid.offsets.end() - 1);
  for (size_t b = 0; b < n_blocks; ++b) {
    const auto end = static_cast<size_t>(grid.offsets[b + 1]);
    while (static_cast<size_t>(next[b]) < end) {
      const auto k = static_cast<size_t>(next[b]);
      size_t home = block_of(k);
      while (home != b) {
        swap_rows(ratings, k, static_cast<size_t>(next[home]++));
        home = block_of(k);
      }
      ++next[b];
    }
  }
  // A seeded shuffle inside each block (one generator per block, so the order does not depend
  // on the threads; a block's rows are close in memory, so this is far cheaper than shuffling
  // the whole table first). SGD needs it: files are often sorted by user or time.
#pragma omp parallel for schedule(dynamic, 1) \
    num_threads(static_cast <int>(std::max <int64_t>(1, threads)))
  for (int64_t b = 0; b < static_cast<int64_t>(n_blocks); ++b) {
    SplitMix rng{seed ^ (0x9e3779b97f4a7c15ull * static_cast<uint64_t>(b + 1))};
    const auto first = static_cast<size_t>(grid.offsets[static_cast<size_t>(b)]);
    const auto count = static_cast<size_t>(grid.offsets[static_cast<size_t>(b) + 1]) - first;
    for (size_t k = count; k > 1; --k) swap_rows(ratings, first + k - 1, first + rng.below(k));
  }
  return grid;
}

std::vector<std::pair<int64_t, int64_t>> blocks_of_round(int64_t blocks, int64_t round) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t a = 0; a < blocks; ++a) out.emplace_back(a, (a + round) % blocks);
  return out;
}

int64_t default_blocks(int64_t threads) {
  const int64_t t = std::max<int64_t>(1, threads);
  return t >= 4 ? t : (4 + t - 1) / t * t;
}

}  // namespace collab
