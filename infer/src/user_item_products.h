// The matrix product UserScorer ranks with, hand-written because Debian's LibTorch links the
// reference BLAS (one thread, a few GFLOP/s: an ml-25m-sized --all-users would take minutes).
// Private to infer/.
#pragma once

#include <cstdint>

namespace collab {

// Items are padded to a multiple of this, so that every score goes through the same vector code.
constexpr int64_t kItemLanes = 16;

// out[b, j] = sum over c of users[b, c] * items[c, j] for b < n_users, j < padded_items
// (row-major; padded_items a multiple of kItemLanes, `items` zero past the real items). Each
// score sums over c in order with the same instructions whatever n_users and b are, so a user's
// row is bit for bit the same in any block. Runs on LibTorch's threads, a tile of items each.
void user_item_products(const float* users, const float* items, float* out, int64_t n_users,
                        int64_t width, int64_t padded_items);

}  // namespace collab
