// fastai Adam's constant hyper-parameters (beta1 and lr come from the schedule), apart from
// adam.h so that the fused kernels (train/src/row_kernels.h) see them without LibTorch's headers.
#pragma once

namespace collab {

struct AdamOptions {
  double beta2 = 0.99;
  double eps = 1e-5;
  double weight_decay = 0.01;
};

}  // namespace collab
