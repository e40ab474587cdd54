#include "collab/train/loss_log.h"

namespace collab {

LossLog::LossLog(int64_t capacity, const torch::Device& device)
    : capacity_(capacity),
      pending_(
          torch::zeros({capacity}, torch::TensorOptions().dtype(torch::kDouble).device(device))) {
  values_.reserve(static_cast<size_t>(capacity));
}

void LossLog::add(const torch::Tensor& loss) {
  // Indexing the device buffer is a device-side copy: the host does not wait for `loss`.
  pending_.narrow(0, count_++, 1).copy_(loss.detach().reshape({1}));
}

void LossLog::add(double loss) {
  values_.push_back(loss);
  ++count_;
}

void LossLog::take(std::vector<double>& out) {
  out.clear();
  if (!values_.empty()) {
    out.swap(values_);  // both keep their capacity: no allocation from step to step
    values_.clear();
  } else if (count_ > 0) {
    // The device-side losses in one copy: the only point where the host waits for them.
    const torch::Tensor host = pending_.narrow(0, 0, count_).to(torch::kCPU);
    const double* data = host.data_ptr<double>();
    out.assign(data, data + count_);
  }
  count_ = 0;
}

}  // namespace collab
