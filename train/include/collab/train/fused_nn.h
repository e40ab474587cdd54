// A fused CPU training step for CollabNN without BatchNorm or dropout (Linear -> ReLU layers and
// a final Linear(., 1)), which needs no autograd: it gathers the batch's embedding rows, runs the
// MLP forward and backward by hand in buffers made once at create(), and applies fastai's Adam
// (decoupled weight decay, per-parameter step counters) to every parameter: the embedding tables
// densely with gradients only in the rows the batch touched (as FusedDotStep's dense pass), the
// Linear layers densely. It is the autograd path's recipe (model forward + mse_loss +
// FastaiAdam::step), which stays the reference and the path for CollabNN with BatchNorm or
// dropout: tests/test_fused_nn.cpp runs both and compares parameters and Adam's state.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "collab/data/batches.h"
#include "collab/models/collab_model.h"
#include "collab/train/adam.h"
#include "collab/train/fused_step.h"
#include "collab/train/sigmoid_range.h"

namespace collab {

class FusedNNStep : public FusedStep {
 public:
  // A fused step for `model` and `optimizer`, or nullptr when the model is not a CollabNN of
  // Linear and ReLU layers only (no BatchNorm, no dropout, no embedding dropout) or its
  // parameters or Adam's state are not contiguous float32 on the CPU. `max_batch` bounds batch
  // sizes.
  static std::unique_ptr<FusedNNStep> create(CollabModelImpl& model, FastaiAdam& optimizer,
                                             int64_t max_batch);

  ~FusedNNStep() override;

  using FusedStep::step;
  double step(const BatchSpan& batch, double lr, double beta1) override;
  // Writes the second moments back to the optimizer.
  void flush() override;

 private:
  // An embedding table with its Adam state and the rows the batch touched; a Linear layer
  // (fused_nn.cpp).
  struct Embedding;
  struct Layer;

  FusedNNStep();
  double forward_backward(const BatchSpan& batch);
  // The MLP's forward pass from activations_[0] over n rows; returns its output.
  const float* forward_layers(int64_t n);
  // The MLP's backward pass from gradients_.back() down to gradients_[0].
  void backward_layers(int64_t n);
  void adam_update(double lr, double beta1);

  std::unique_ptr<Embedding> users_, items_;
  std::vector<Layer> layers_;  // the hidden layers, then the output layer (1 output)
  // activations_[0] is the batch's concatenated embedding rows, activations_[l + 1] the output
  // of layers_[l] (after its ReLU for hidden layers); gradients_[l] is d loss / d
  // activations_[l], made d loss / d the pre-activation in place for hidden layers. Each is
  // [max_batch, width].
  std::vector<std::vector<float>> activations_, gradients_;
  OutputRange output_range_;
  AdamOptions options_;
  int64_t max_batch_ = 0;
};

}  // namespace collab
