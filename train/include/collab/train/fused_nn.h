// A fused CPU training step for CollabNN without BatchNorm or dropout (Linear -> ReLU layers and
// a final Linear(., 1)), which needs no autograd: it gathers the batch's embedding rows, runs the
// MLP forward and backward by hand in buffers made once at create(), and applies fastai's Adam
// (decoupled weight decay, per-parameter step counters) to every parameter: the embedding tables
// densely with gradients only in the rows the batch touched (as FusedDotStep), the Linear layers
// densely. It is the autograd path's recipe (model forward + mse_loss + FastaiAdam::step), which
// stays the reference and the path for CollabNN with BatchNorm or dropout: tests/test_fused_nn.cpp
// runs both and compares parameters and Adam's state.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "collab/data/batches.h"
#include "collab/models/collab_model.h"
#include "collab/train/adam.h"
#include "collab/train/fused_step.h"

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

  // A parameter with its Adam state and its gradient.
  struct Param {
    float* param;
    float* exp_avg;
    SecondMomentRoot exp_avg_root;
    int64_t* step;
    int64_t size;
    bool decay;
    std::vector<float> grad;  // the gradient; for an embedding, one row per touched row
  };
  // An embedding table [rows, dim] and the map from a touched row to its gradient row.
  struct Embedding {
    Param table;
    int64_t rows;
    int64_t dim;
    std::vector<int32_t> slot_of_row;  // -1 for rows the batch does not touch
    std::vector<int64_t> touched;      // rows in slot order
  };
  // A Linear layer: out = in W^T + b, W [outputs, inputs].
  struct Layer {
    Param weight, bias;
    int64_t inputs, outputs;
  };

 private:
  FusedNNStep() = default;
  double forward_backward(const BatchSpan& batch);
  void adam_update(double lr, double beta1);
  static void clear_gradients(Embedding& side);

  Embedding users_, items_;
  std::vector<Layer> layers_;  // the hidden layers, then the output layer (1 output)
  // activations_[0] is the batch's concatenated embedding rows, activations_[l + 1] the output
  // of layers_[l] (after its ReLU for hidden layers); gradients_[l] is d loss / d
  // activations_[l], made d loss / d the pre-activation in place for hidden layers. Each is
  // [max_batch, width].
  std::vector<std::vector<float>> activations_, gradients_;
  std::optional<YRange> y_range_;
  AdamOptions options_;
  int64_t max_batch_ = 0;
};

}  // namespace collab
