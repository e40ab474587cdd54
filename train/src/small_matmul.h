// Products of the small row-major matrices of a CollabNN training step (a mini-batch of rows
// times a Linear layer's weight), for fused_nn.cpp. Register-blocked loops built for AVX2/FMA
// too: at these sizes (64 x 176 x 100) they beat a BLAS call's overhead, and Debian's LibTorch
// calls the reference BLAS, which is many times slower.
#pragma once

#include <cstdint>

namespace collab {

// C[n, m] = A[n, k] B[m, k]^T (+ bias[j] in column j when bias is not null): each entry a dot
// product of a row of A and a row of B, as a Linear layer's forward (B its [out, in] weight).
void matmul_abt(const float* A, const float* B, const float* bias, float* C, int64_t n, int64_t m,
                int64_t k);

// C[n, m] = A B with B [k, m] row-major and A's entry (i, l) at A[i * a_row + l * a_col], so A
// may be a transposed view: dX = dZ W takes a_row = out, a_col = 1; dW = dZ^T H takes a_row = 1,
// a_col = out.
void matmul_ab(const float* A, int64_t a_row, int64_t a_col, const float* B, float* C, int64_t n,
               int64_t m, int64_t k);

}  // namespace collab
