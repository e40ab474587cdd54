// fastai's fit_one_cycle schedule: lr cosine from lr_max/div up to lr_max over the first
// pct_start of the steps, then cosine down to lr_max/div_final; Adam's beta1 cosine from
// moms[0] down to moms[1] and back to moms[2] on the same phases. Steps count training batches
// from 0.
#pragma once

#include <array>
#include <cstdint>

namespace collab {

struct OneCycleOptions {
  double lr_max = 5e-3;
  double pct_start = 0.25;
  double div = 25.0;
  double div_final = 1e5;
  std::array<double, 3> moms = {0.95, 0.85, 0.95};
};

// fastai's sched_cos: start + (1 + cos(pi * (1 - pos))) * (end - start) / 2, pos in [0, 1].
double sched_cos(double start, double end, double pos);

class OneCycle {
 public:
  OneCycle(const OneCycleOptions& options, int64_t total_steps);
  double lr(int64_t step) const;
  double beta1(int64_t step) const;
  int64_t total_steps() const { return total_steps_; }

 private:
  double phase(int64_t step, double start, double middle, double end) const;

  OneCycleOptions options_;
  int64_t total_steps_;
};

}  // namespace collab
