// The block grid of the sparse fast path (sparse_train.h): users and items cut into B
// contiguous ranges holding about equal numbers of ratings, which splits the ratings into a
// B x B grid of blocks; round d of a pass trains the B blocks (a, (a + d) mod B), which share no
// user range and no item range, so that threads training them never touch the same row.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "collab/data/ratings.h"

namespace collab {

// The ratings of `ratings` grouped into a B x B grid of (user range, item range) blocks.
struct BlockGrid {
  int64_t size = 0;                  // B, ranges per side
  std::vector<uint16_t> user_range;  // range of each user row
  std::vector<uint16_t> item_range;  // range of each item row
  // Block (a, b)'s ratings are rows [offsets[a * B + b], offsets[a * B + b + 1]).
  std::vector<int64_t> offsets;

  int64_t begin(int64_t a, int64_t b) const { return offsets[static_cast<size_t>(a * size + b)]; }
  int64_t end(int64_t a, int64_t b) const { return offsets[static_cast<size_t>(a * size + b + 1)]; }
};

// Cuts rows 0..n-1 into `parts` contiguous ranges holding about equal sums of `counts`;
// returns each row's range.
std::vector<uint16_t> balanced_ranges(const std::vector<int64_t>& counts, int64_t parts);

// Reorders `ratings` in place, without a copy of the data, so that each block's ratings are
// contiguous, each block in a seeded random order; drops the timestamps. `blocks` is B
// (1..4096); `threads` shuffle blocks in parallel (the result does not depend on them).
BlockGrid partition_into_blocks(Ratings& ratings, int64_t n_users, int64_t n_items, int64_t blocks,
                                uint64_t seed, int64_t threads = 1);

// The blocks of round `round` (0..B-1): (a, (a + round) mod B) for a = 0..B-1.
std::vector<std::pair<int64_t, int64_t>> blocks_of_round(int64_t blocks, int64_t round);

// The grid size when train.blocks is 0: at least 4 and a multiple of the threads, so that the
// default gives the same results for 1, 2 and 4 threads.
int64_t default_blocks(int64_t threads);

}  // namespace collab
