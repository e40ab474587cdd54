#include "collab/train/fused_step.h"

#include "collab/train/fused_dot.h"
#include "collab/train/fused_nn.h"
#include "collab/common/error.h"
#include "row_kernels.h"

namespace collab {

SecondMomentRoot::SecondMomentRoot(const torch::Tensor& exp_avg_sq)
    : exp_avg_sq_(exp_avg_sq),
      root_(torch::empty_like(exp_avg_sq)),
      data_(root_.data_ptr<float>()) {
  second_moment_root(data_, exp_avg_sq_.data_ptr<float>(), root_.numel());
}

void SecondMomentRoot::write_back() const {
  if (!root_.defined()) return;
  second_moment_from_root(exp_avg_sq_.data_ptr<float>(), data_, root_.numel());
}

double FusedStep::step_slice(const BatchSpan&, const StepSlice&, double, double) {
  throw Error("this fused step does not train as one of several ranks (can_step_slices)");
}

bool fused_step_can_use(const torch::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.is_contiguous();
}

std::unique_ptr<FusedStep> make_fused_step(CollabModelImpl& model, FastaiAdam& optimizer,
                                           int64_t max_batch) {
  if (auto dot = FusedDotStep::create(model, optimizer, max_batch)) return dot;
  if (auto nn = FusedNNStep::create(model, optimizer, max_batch)) return nn;
  return nullptr;
}

}  // namespace collab
