// Mini-batches as tensors: x is [B, 2] (user index, item index), y is [B] ratings.
// Training batches are reshuffled each epoch from a seeded generator and the last partial batch
// is dropped (as fastai does); validation is a full pass in fixed-size chunks.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "collab/data/ratings.h"

namespace collab {

struct Batch {
  torch::Tensor x;  // int64 [B, 2]
  torch::Tensor y;  // float [B]
};

// A batch's (user, item) pairs and ratings in CPU memory, as the fused steps read them: taking
// one costs nothing, where a Batch of tensor views costs two narrow() calls (~1.4 us together).
struct BatchSpan {
  const int64_t* x;  // [size, 2]
  const float* y;    // [size]
  int64_t size;
};

// `batch`'s memory; it must be on the CPU and contiguous, and outlive the span.
BatchSpan span_of(const Batch& batch);

// All rows of `ratings` as one batch on `device`.
Batch to_batch(const Ratings& ratings, const torch::Device& device = torch::kCPU);

// Where `all` lives decides how batches reach `device`: on the device itself, batches are views;
// on the host while `device` is a GPU (data too large to upload whole), the shuffled copy is kept
// in pinned memory and each batch is copied over without blocking the host.
class ShuffledBatches {
 public:
  ShuffledBatches(Batch all, int64_t batch_size, const torch::Device& device);
  // Batches on the device `all` is on.
  ShuffledBatches(const Batch& all, int64_t batch_size)
      : ShuffledBatches(all, batch_size, all.x.device()) {}
  // Draws this epoch's order from `generator` (a CPU generator).
  void shuffle(at::Generator& generator);
  int64_t size() const { return n_batches_; }
  // Batch `b` of the current order on the device: views when the data is there, else a
  // non-blocking copy from pinned memory.
  Batch operator[](int64_t b) const;
  // Batch `b` of the current order as memory, valid until the next shuffle(); for batches on
  // the CPU (not staged()).
  BatchSpan span(int64_t b) const;
  int64_t batch_size() const { return batch_size_; }
  bool staged() const { return all_.x.device() != device_; }

 private:
  Batch all_;
  Batch order_;
  torch::Device device_;
  int64_t batch_size_;
  int64_t n_batches_;
};

// Chunks of at most `chunk` rows covering `all` in order.
std::vector<Batch> chunks(const Batch& all, int64_t chunk);

}  // namespace collab
