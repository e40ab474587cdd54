// Private to SVDpp (models/svd_pp.h): its implicit-feedback term, |N(u)|^-1/2 * sum of y_j over
// the items j each user u rated, in two forms that compute the same numbers.
//
// The composed form gathers every rated item's row and sums them per user with index_add; its
// backward goes through embedding's dense backward, which sorts the gathered indices: on MovieLens
// 100k a batch of 64 users gathers about 13,000 rows, and those two ops were most of an SVDpp
// step. The fused form sums the rows in place (forward) and adds each user's gradient straight
// into the rows it read (backward): the same sums in the same order, without the gathered copy
// or the sort. It serves float tensors on the CPU; the composed form serves everything else
// (CUDA, double) and is what the TorchScript export scripts.
#pragma once

#include <torch/torch.h>

namespace collab {

// `table` [n_items, k]; `offsets` (int64 [n_users + 1]) and `items` (int64 [nnz]) are N(u) in
// CSR form; `users` (int64 [B]). Returns [B, k], differentiable in `table`.
torch::Tensor implicit_sum_composed(const torch::Tensor& table, const torch::Tensor& offsets,
                                    const torch::Tensor& items, const torch::Tensor& users);
torch::Tensor implicit_sum_fused(const torch::Tensor& table, const torch::Tensor& offsets,
                                 const torch::Tensor& items, const torch::Tensor& users);

// Whether implicit_sum_fused serves these tensors.
bool implicit_sum_fusable(const torch::Tensor& table);

}  // namespace collab
