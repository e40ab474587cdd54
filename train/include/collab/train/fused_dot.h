// A fused CPU training step for the dot-product family (DotProduct, DotProductBias) that needs
// no autograd: it gathers the batch's rows, computes predictions, the MSE loss and its row
// gradients by hand, then runs fastai's Adam (decoupled weight decay, dense: every row decays
// and moves with its momentum at every step), vectorised.
//
// Dense Adam is bound by memory traffic: every step reads and writes every parameter and both
// moments. Here the rows a batch touches take their step at once; for the others the step's
// scalars are appended to a list, and a row takes the steps it missed, in order and with the
// same arithmetic, when a batch is about to touch it (prepare(), on the step's threads), when
// one touches it, or at flush(), its values held in registers meanwhile. The parameters are then
// exactly what the dense pass gives, for the same arithmetic and a fraction of the traffic.
// Tables narrower than 8 floats (the biases) stay dense, swept 16 rows a vector. With two
// threads, the users' tables are updated on the caller's core and the items' on the worker's,
// step after step, so that a row and its moments stay in one core's cache.
//
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
#include "collab/train/sigmoid_range.h"

namespace collab {

class StepPool;

class FusedDotStep : public FusedStep {
 public:
  // A fused step for `model` and `optimizer`, or nullptr when the model is not of the dot
  // family or its parameters are not float32 on the CPU. `max_batch` bounds batch sizes.
  // The dense pass, prepare() and flush() run on at::get_num_threads() threads when the tables
  // are large enough for that to pay.
  // Tables of at least `deferred_from` parameters (and 8 wide) defer untouched rows' steps.
  static std::unique_ptr<FusedDotStep> create(CollabModelImpl& model, FastaiAdam& optimizer,
                                              int64_t max_batch,
                                              int64_t deferred_from = kDeferredFrom);
  // Every table 8 wide or more defers: replaying a row's steps in registers when a batch next
  // touches it (or prepare() does, or the parameters are read) costs arithmetic only, where a
  // dense pass at every step moves every parameter and both moments through memory twice.
  // Measured (bench_train_step, bs 64, 1 thread): MovieLens 100k's tables 47-50 us a step
  // deferred vs 55-61 dense; gen_synth.py's 0.39 ms vs 2.1. Tests pass a larger value to train
  // the dense pass.
  static constexpr int64_t kDeferredFrom = 0;
  ~FusedDotStep() override;

  using FusedStep::prepare;
  using FusedStep::step;
  double step(const BatchSpan& batch, double lr, double beta1) override;
  // Every rank gives the global batch's rows the same gradient slots (in the batch's order),
  // accumulates its slice's gradients with the global batch's normalisation, and sums the
  // touched rows' gradients and the loss across ranks in one buffer before the update.
  bool can_step_slices() const override { return true; }
  double step_slice(const BatchSpan& batch, const StepSlice& slice, double lr,
                    double beta1) override;
  bool runs_own_threads() const override;
  // The forward pass's arithmetic (dot product, biases, y_range) over x, on the caller's thread.
  std::optional<torch::Tensor> predict(const torch::Tensor& x) override;
  // The next step() brings the rows `next` touches up to date, in its pass over the pool, so
  // that the forward pass after it does not replay them one by one on one thread.
  void prepare(const BatchSpan& next) override;
  // Brings every row up to date (the steps it has not taken yet) and writes the second moments
  // back to the optimizer.
  void flush() override;

 private:
  // The users' or the items' tables (fused_dot.cpp).
  struct Side;

  FusedDotStep();
  // Gradients and loss of `batch` as part of a batch of `normaliser` ratings (the mean squared
  // error's divisor); returns the batch's squared errors over `normaliser`.
  double forward_backward(const BatchSpan& batch, int64_t normaliser);
  // The prediction for user u and item i, and its slope: d prediction / d dot product.
  Prediction predict_one(int64_t u, int64_t i) const;
  // Every table takes this step: a dense one on every row; in a deferred one the touched rows
  // take it with their gradient and the others have it added to their history.
  void adam_update(double lr, double beta1);
  // Every deferred row takes the steps it has not taken, and the histories start again.
  void catch_up_all();

  std::unique_ptr<Side> users_, items_;
  OutputRange output_range_;
  AdamOptions options_;
  std::unique_ptr<StepPool> pool_;  // the step's threads, the caller included
  // prepare()'s batch, until the next step lists its rows.
  BatchSpan upcoming_{nullptr, nullptr, 0};
};

}  // namespace collab
