// The interface through which Trainer drives a fused (autograd-free) CPU training step:
// FusedDotStep (fused_dot.h) for DotProduct/DotProductBias, FusedNNStep (fused_nn.h) for a plain
// CollabNN. make_fused_step() picks the one that fits a model, if any.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>
#include <memory>
#include <optional>

#include "collab/data/batches.h"
#include "collab/models/collab_model.h"
#include "collab/train/adam.h"

namespace collab {

// A data-parallel rank's share of a fused step (Trainer with a Collective): the rank's gradients
// come from ratings [begin, end) of the global batch, and `sum` adds a list of float tensors over
// all ranks in place (one allreduce), so that every rank takes the same update.
struct StepSlice {
  int64_t begin = 0, end = 0;
  std::function<void(std::vector<torch::Tensor>&)> sum;
};

class FusedStep {
 public:
  virtual ~FusedStep() = default;
  // One training step on `batch` with the scheduled lr and beta1: forward, MSE loss, backward
  // and FastaiAdam's update of every parameter. Returns the batch's mean squared error before
  // the update, as the autograd path's loss.
  virtual double step(const BatchSpan& batch, double lr, double beta1) = 0;
  // The same step as one of several ranks (StepSlice): only the rows the global batch touches
  // are summed across ranks. Returns the global batch's mean squared error. Steps that cannot
  // say so in can_step_slices(), and a distributed run then trains by autograd.
  virtual bool can_step_slices() const { return false; }
  virtual double step_slice(const BatchSpan& batch, const StepSlice& slice, double lr,
                            double beta1);
  double step(const Batch& batch, double lr, double beta1) {
    return step(span_of(batch), lr, beta1);
  }
  // Predictions for the (user, item) index pairs x [n, 2] from the step's tables, where the
  // step has a faster way to them than the model's forward (which makes [n, dim] temporaries);
  // none otherwise. Call after flush(). They may differ from the forward's in float rounding.
  virtual std::optional<torch::Tensor> predict(const torch::Tensor& /*x*/) { return std::nullopt; }
  // Whether the step runs its own threads (more than the caller's). LibTorch's intra-op pool
  // then stays at one thread while it trains: its OpenMP workers spin for milliseconds after
  // each parallel region (the epoch's shuffle and evaluation) and would take the cores from the
  // step's own workers.
  virtual bool runs_own_threads() const { return false; }
  // Told the batch the step after the next one will take, the next step may start on it
  // (FusedDotStep brings that batch's rows up to date in the same pass over its threads);
  // `next` must stay valid until then. Optional: results do not depend on it.
  virtual void prepare(const BatchSpan& /*next*/) {}
  void prepare(const Batch& next) { prepare(span_of(next)); }
  // A step may leave work on parameters for later (FusedDotStep does); this finishes it. Call it
  // before reading the parameters or the optimizer state (evaluation, checkpoints).
  virtual void flush() {}
};

// Adam's second moment of one parameter as a fused step keeps it: its elementwise square root,
// which makes the update a multiply-add instead of a square root per element (row_kernels.h in
// train/src says more), in a 64-byte-aligned buffer of its own. The optimizer's exp_avg_sq is
// stale until write_back(), which a fused step's flush() calls.
class SecondMomentRoot {
 public:
  SecondMomentRoot() = default;  // none: write_back() does nothing
  explicit SecondMomentRoot(const torch::Tensor& exp_avg_sq);
  // Read at every row a step touches: the pointer is kept, not asked of the tensor each time.
  float* data() const { return data_; }
  // exp_avg_sq = root * root. Converting is exact both ways, so a step that goes on after a
  // write-back, or one created afresh from the written tensor, gives the same bits.
  void write_back() const;

 private:
  torch::Tensor exp_avg_sq_, root_;
  float* data_ = nullptr;  // root_'s, which keeps its storage for life
};

// Whether a fused step can work on `t` in place: float32, contiguous, on the CPU.
bool fused_step_can_use(const torch::Tensor& t);

// The fused step for `model` and `optimizer` (batches of at most `max_batch` ratings), or
// nullptr when no fused step covers the model; it then trains by autograd.
std::unique_ptr<FusedStep> make_fused_step(CollabModelImpl& model, FastaiAdam& optimizer,
                                           int64_t max_batch);

}  // namespace collab
