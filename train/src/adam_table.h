// A parameter tensor that a fused step (fused_dot.cpp, fused_nn.cpp) updates in place, seen as
// a table of `rows` rows of `dim` floats, with its FastaiAdam state (the second moment kept as
// its root, see row_kernels.h) and a buffer for one batch's gradient. Private to train/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "collab/models/collab_model.h"
#include "collab/train/adam.h"
#include "collab/train/fused_step.h"
#include "row_kernels.h"

namespace collab {

// Whether a fused step can work in place on every parameter of `model` and on its Adam state
// in `optimizer` (fused_step_can_use).
inline bool fused_step_can_use_all(CollabModelImpl& model, FastaiAdam& optimizer) {
  for (const auto& p : model.parameters()) {
    if (!fused_step_can_use(p)) return false;
  }
  for (const auto& state : optimizer.states()) {
    if (!fused_step_can_use(state.exp_avg) || !fused_step_can_use(state.exp_avg_sq)) return false;
  }
  return true;
}

struct AdamTable {
  float* param;
  float* exp_avg;
  SecondMomentRoot exp_avg_root;
  int64_t* step;  // the optimizer's step counter for this tensor
  int64_t rows;
  int64_t dim;              // 1 for a 1-d tensor (a bias)
  bool decay;               // whether weight decay applies (FastaiAdam::decays)
  std::vector<float> grad;  // [grad_rows, dim]

  // `tensor` (float32, contiguous, on the CPU) and its state in `optimizer`, with a zeroed
  // gradient buffer of `grad_rows` rows.
  AdamTable(const torch::Tensor& tensor, FastaiAdam& optimizer, int64_t grad_rows)
      : AdamTable(tensor, optimizer.state_of(tensor), optimizer.decays(tensor), grad_rows) {}

  int64_t size() const { return rows * dim; }

  // Advances the step counter and returns this step's Adam scalars.
  AdamScalars next_step(const AdamOptions& options, double lr, double beta1) {
    return adam_scalars(options, decay, lr, beta1, ++*step);
  }

  // Row `row` takes a step with gradient row `g`.
  void update_row(int64_t row, const float* g, const AdamScalars& s) {
    const int64_t offset = row * dim;
    adam_rows_with_grad(param + offset, exp_avg + offset, exp_avg_root.data() + offset, g, dim, s);
  }

  // Asks for row `row` and its two moments, to write them.
  COLLAB_PREFETCH void prefetch_row_state(int64_t row) const {
    const int64_t offset = row * dim;
    const int64_t bytes = dim * static_cast<int64_t>(sizeof(float));
    prefetch_row</*for_writing=*/true>(param + offset, bytes);
    prefetch_row</*for_writing=*/true>(exp_avg + offset, bytes);
    prefetch_row</*for_writing=*/true>(exp_avg_root.data() + offset, bytes);
  }

  // Zeroes the first `used` gradient rows (a batch's touched rows).
  void clear_grad(size_t used) { std::fill_n(grad.begin(), used * static_cast<size_t>(dim), 0.0f); }

 private:
  AdamTable(const torch::Tensor& tensor, FastaiAdam::State& state, bool decays, int64_t grad_rows)
      : param(tensor.data_ptr<float>()),
        exp_avg(state.exp_avg.data_ptr<float>()),
        exp_avg_root(state.exp_avg_sq),
        step(&state.step),
        rows(tensor.size(0)),
        dim(tensor.dim() > 1 ? tensor.size(1) : 1),
        decay(decays),
        grad(static_cast<size_t>(grad_rows * dim), 0.0f) {}
};

}  // namespace collab
