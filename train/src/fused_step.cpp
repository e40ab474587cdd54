#include "collab/train/fused_step.h"

#include "collab/train/fused_dot.h"
#include "collab/train/fused_nn.h"

namespace collab {

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
