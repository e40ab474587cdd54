#include "collab/train/one_cycle.h"

#include <cmath>

namespace collab {

double sched_cos(double start, double end, double pos) {
  return start + (1.0 + std::cos(M_PI * (1.0 - pos))) * (end - start) / 2.0;
}

OneCycle::OneCycle(const OneCycleOptions& options, int64_t total_steps)
    : options_(options), total_steps_(total_steps) {}

double OneCycle::phase(int64_t step, double start, double middle, double end) const {
  // fastai's combine_scheds keeps the phase boundaries in a float32 tensor, so the position
  // within a phase is float32 arithmetic; late lrs (~1e-7) are sensitive to that rounding.
  const float pos =
      static_cast<float>(static_cast<double>(step) / static_cast<double>(total_steps_));
  const float p = static_cast<float>(options_.pct_start);
  if (pos < p) return sched_cos(start, middle, static_cast<double>(pos / p));
  return sched_cos(middle, end, static_cast<double>((pos - p) / (1.0f - p)));
}

double OneCycle::lr(int64_t step) const {
  const double lr_max = options_.lr_max;
  return phase(step, lr_max / options_.div, lr_max, lr_max / options_.div_final);
}

double OneCycle::beta1(int64_t step) const {
  return phase(step, options_.moms[0], options_.moms[1], options_.moms[2]);
}

}  // namespace collab
