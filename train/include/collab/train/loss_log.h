// Training losses on their way from the device to the host. On a GPU, reading a loss with
// .item() makes the host wait until the device has run every queued kernel, at every step;
// LossLog keeps the losses of up to `capacity` steps on the device and reads them back in one
// copy, so the host can queue the next steps meanwhile.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace collab {

class LossLog {
 public:
  // Holds up to `capacity` (>= 1) losses computed on `device`.
  LossLog(int64_t capacity, const torch::Device& device);

  // Records one step's loss: a one-element tensor on the device, or a number already on the
  // host (the fused CPU step computes it there). A log takes one kind or the other per run.
  void add(const torch::Tensor& loss);
  void add(double loss);

  int64_t size() const { return count_; }
  bool full() const { return count_ == capacity_; }

  // Replaces `out`'s contents with the losses recorded since the last take(), oldest first, and
  // empties the log.
  void take(std::vector<double>& out);

 private:
  int64_t capacity_;
  torch::Tensor pending_;  // [capacity] on the device
  int64_t count_ = 0;
  std::vector<double> values_;
};

}  // namespace collab
