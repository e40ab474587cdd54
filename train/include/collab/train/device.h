// Turns `train.device` into a torch::Device, with a clear error when CUDA is asked of a build or
// machine without it.
#pragma once

#include <string>

#include <torch/torch.h>

namespace collab {

// "cpu", "cuda", "cuda:N" or "auto" (CUDA when available, else CPU).
torch::Device resolve_device(const std::string& spec);

}  // namespace collab
