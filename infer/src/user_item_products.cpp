// user_item_products (user_item_products.h): a register-blocked product of a block of user rows
// with the item columns, tiled so that a tile of item columns stays in cache while every user of
// the block passes over it.
#include "user_item_products.h"

#include <ATen/Parallel.h>

#include <algorithm>

#include "collab/common/multiversion.h"

namespace collab {

namespace {

typedef float Lanes __attribute__((vector_size(32)));  // eight floats

// Items per tile: 52 columns x 256 items x 4 bytes = 53 KB, resident in L2.
constexpr int64_t kTileItems = 256;

// kRows users x 16 items: 2 * kRows accumulators in registers, two loads per column c shared by
// every row. Always inlined, so each COLLAB_MULTIVERSION clone builds it for its own target.
template <int kRows>
inline __attribute__((always_inline)) void rows_times_items(const float* users, int64_t width,
                                                            const float* items, int64_t stride,
                                                            float* out) {
  Lanes acc[kRows][2] = {};
  for (int64_t c = 0; c < width; ++c) {
    Lanes lo, hi;
    __builtin_memcpy(&lo, items + c * stride, sizeof lo);
    __builtin_memcpy(&hi, items + c * stride + 8, sizeof hi);
    for (int r = 0; r < kRows; ++r) {
      const float u = users[r * width + c];
      acc[r][0] += u * lo;
      acc[r][1] += u * hi;
    }
  }
  for (int r = 0; r < kRows; ++r) {
    __builtin_memcpy(out + r * stride, &acc[r][0], sizeof(Lanes));
    __builtin_memcpy(out + r * stride + 8, &acc[r][1], sizeof(Lanes));
  }
}

// One tile of items [begin, end) for every user. A user's scores come from rows_times_items<4>
// or, for the last n_users % 4, a smaller instance of the same loop: the same sum either way.
COLLAB_MULTIVERSION void tile(const float* users, const float* items, float* out, int64_t n_users,
                              int64_t width, int64_t stride, int64_t begin, int64_t end) {
  for (int64_t b = 0; b < n_users; b += 4) {
    const int64_t rows = std::min<int64_t>(4, n_users - b);
    for (int64_t j = begin; j < end; j += kItemLanes) {
      const float* u = users + b * width;
      float* o = out + b * stride + j;
      if (rows == 4) {
        rows_times_items<4>(u, width, items + j, stride, o);
      } else if (rows == 3) {
        rows_times_items<3>(u, width, items + j, stride, o);
      } else if (rows == 2) {
        rows_times_items<2>(u, width, items + j, stride, o);
      } else {
        rows_times_items<1>(u, width, items + j, stride, o);
      }
    }
  }
}

}  // namespace

void user_item_products(const float* users, const float* items, float* out, int64_t n_users,
                        int64_t width, int64_t padded_items) {
  const int64_t tiles = (padded_items + kTileItems - 1) / kTileItems;
  at::parallel_for(0, tiles, 1, [&](int64_t first, int64_t last) {
    for (int64_t t = first; t < last; ++t) {
      tile(users, items, out, n_users, width, padded_items, t * kTileItems,
           std::min(padded_items, (t + 1) * kTileItems));
    }
  });
}

}  // namespace collab
