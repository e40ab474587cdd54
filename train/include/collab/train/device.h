// Turns `train.device` into a torch::Device, with a clear error when CUDA is asked of a build or
// machine without it.
#pragma once

#include <string>

#include <torch/torch.h>

namespace collab {

// "cpu", "cuda", "cuda:N" or "auto" (CUDA when available, else CPU).
torch::Device resolve_device(const std::string& spec);

// train.data_placement "auto" uploads the training ratings to a GPU when they take at most this
// much there (20 bytes a rating, training_bytes(): 1 GiB holds 53M ratings, MovieLens 25M
// included); larger sets are staged batch by batch. A fixed size rather than the free memory: the same config then
// places data the same way on every GPU, and every GPU collab targets has far more.
constexpr int64_t kDeviceDataLimitBytes = int64_t{1} << 30;

// The device the training ratings are kept on: `device` itself, or the CPU when they are staged
// (`placement` as train.data_placement; `bytes` their size as tensors).
torch::Device training_data_device(const std::string& placement, const torch::Device& device,
                                   int64_t bytes);

// The steps between two reads of the training loss for train.sync_every (0: automatic).
int64_t loss_sync_interval(int64_t sync_every, const torch::Device& device);

}  // namespace collab
