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

// All rows of `ratings` as one batch on `device`.
Batch to_batch(const Ratings& ratings, const torch::Device& device = torch::kCPU);

class ShuffledBatches {
 public:
  ShuffledBatches(Batch all, int64_t batch_size);
  // Draws this epoch's order from `generator` (a CPU generator).
  void shuffle(at::Generator& generator);
  int64_t size() const { return n_batches_; }
  // Batch `b` of the current order: views, no copy.
  Batch operator[](int64_t b) const;
  int64_t batch_size() const { return batch_size_; }

 private:
  Batch all_;
  Batch order_;
  int64_t batch_size_;
  int64_t n_batches_;
};

// Chunks of at most `chunk` rows covering `all` in order.
std::vector<Batch> chunks(const Batch& all, int64_t chunk);

}  // namespace collab
