// A fused CPU training step for the dot-product family (DotProduct, DotProductBias) that needs
// no autograd: it gathers the batch's rows, computes predictions, the MSE loss and its row
// gradients by hand, then runs fastai's Adam (decoupled weight decay, dense: every row decays
// and moves with its momentum) over all parameters in one vectorised, multi-threaded pass.
// It is the same recipe as the autograd path (model forward + FastaiAdam::step), which stays
// the reference: tests/test_fused_dot.cpp runs both and compares parameters.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "collab/data/batches.h"
#include "collab/models/collab_model.h"
#include "collab/train/adam.h"
#include "collab/train/fused_step.h"

namespace collab {

class StepPool;
struct AdamScalars;  // train/src/row_kernels.h

class FusedDotStep : public FusedStep {
 public:
  // A fused step for `model` and `optimizer`, or nullptr when the model is not of the dot
  // family or its parameters are not float32 on the CPU. `max_batch` bounds batch sizes.
  // The Adam pass runs on at::get_num_threads() threads when the tables are large enough for
  // that to pay.
  static std::unique_ptr<FusedDotStep> create(CollabModelImpl& model, FastaiAdam& optimizer,
                                              int64_t max_batch);
  ~FusedDotStep() override;

  double step(const Batch& batch, double lr, double beta1) override;

  // One parameter table (an embedding) with its Adam state and its batch gradient rows.
  struct Table {
    float* param;
    float* exp_avg;
    float* exp_avg_sq;
    int64_t* step;
    int64_t rows;
    int64_t dim;
    bool decay;
    std::vector<float> grad;  // [max_batch, dim]: rows of the gradient, one per touched row
  };
  // The users' or the items' side: a factor table and optionally a bias table, sharing the map
  // from a touched row to its slot in the gradient buffers.
  struct Side {
    Table factors;
    std::unique_ptr<Table> bias;       // null for DotProduct
    std::vector<int32_t> slot_of_row;  // -1 for rows the batch does not touch
    std::vector<int64_t> touched;      // rows in slot order
  };

 private:
  FusedDotStep() = default;
  double forward_backward(const Batch& batch);
  // Advances `table`'s step counter and returns this step's Adam scalars for it.
  AdamScalars advance(Table& table, double lr, double beta1) const;
  // The Adam update of rows [begin, end) of `table`.
  static void adam_rows(const Table& table, const Side& side, const AdamScalars& s, int64_t begin,
                        int64_t end);
  void adam_update(double lr, double beta1);
  void clear_gradients(Side& side);

  Side users_, items_;
  std::optional<YRange> y_range_;
  AdamOptions options_;
  std::unique_ptr<StepPool> pool_;  // the Adam pass's threads, the caller included
};

}  // namespace collab
