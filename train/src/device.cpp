#include "collab/train/device.h"

#include <algorithm>
#include <cctype>

#include "collab/common/error.h"
#include "collab/common/utf8.h"

namespace collab {

torch::Device resolve_device(const std::string& spec) {
  const std::string key = "train.device";
  if (spec == "cpu") return torch::kCPU;
  if (spec == "auto")
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::kCPU;
  int index = 0;
  if (spec.rfind("cuda:", 0) == 0 && spec.size() > 5 && spec.size() < 9 &&
      std::all_of(spec.begin() + 5, spec.end(), [](unsigned char c) { return std::isdigit(c); })) {
    index = std::stoi(spec.substr(5));
  } else if (spec != "cuda") {
    throw Error(key + ": expected \"cpu\", \"cuda\", \"cuda:N\" or \"auto\", got " +
                quoted_for_message(spec));
  }
  if (!torch::cuda::is_available()) {
    throw Error(key + ": " + quoted_for_message(spec) +
                " requested, but this collab has no usable CUDA (its LibTorch is CPU-only or no "
                "GPU is visible); use \"cpu\" or \"auto\", or build against a CUDA LibTorch");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw Error(key + ": " + quoted_for_message(spec) + " requested, but only " +
                std::to_string(count) + " CUDA device(s) are visible");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

torch::Device training_data_device(const std::string& placement, const torch::Device& device,
                                   int64_t bytes) {
  if (device.is_cpu() || placement == "device") return device;
  if (placement == "staged") return torch::kCPU;
  return bytes <= kDeviceDataLimitBytes ? device : torch::Device(torch::kCPU);
}

int64_t loss_sync_interval(int64_t sync_every, const torch::Device& device) {
  if (sync_every > 0) return sync_every;
  return device.is_cpu() ? 1 : 100;
}

}  // namespace collab
