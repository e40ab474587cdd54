#include "collab/train/fused_nn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "adam_table.h"
#include "row_kernels.h"
#include "small_matmul.h"
#include "touched_rows.h"

namespace collab {

// An embedding table [rows, dim] with its Adam state and gradient rows, and the rows the batch
// touched (their slots in the gradient).
struct FusedNNStep::Embedding {
  AdamTable table;
  TouchedRows touched;

  Embedding(const torch::Tensor& weight, FastaiAdam& optimizer, int64_t max_batch)
      : table(weight, optimizer, max_batch) {
    touched.reset(table.rows, max_batch);
  }

  void clear_gradients() {
    table.clear_grad(touched.size());
    touched.clear();
  }
};

// A Linear layer: out = in W^T + b, W [outputs, inputs].
struct FusedNNStep::Layer {
  AdamTable weight, bias;
  int64_t inputs, outputs;
};

namespace {

// The Linear layers of a CollabNN MLP made of [Linear, ReLU] * hidden + [Linear(., 1)] only, or
// none when it holds anything else (BatchNorm, dropout).
std::vector<torch::nn::Linear> plain_mlp(const torch::nn::Sequential& mlp) {
  std::vector<torch::nn::Linear> linears;
  const auto children = mlp->children();
  for (size_t c = 0; c < children.size(); ++c) {
    const auto& module = children[c];
    const bool expect_linear = c % 2 == 0;
    if (expect_linear) {
      const auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(module);
      if (!linear || !linear->bias.defined()) return {};
      linears.emplace_back(linear);
    } else if (!std::dynamic_pointer_cast<torch::nn::ReLUImpl>(module)) {
      return {};
    }
  }
  // It ends with a Linear of one output.
  if (children.size() % 2 != 1 || linears.back()->weight.size(0) != 1) return {};
  return linears;
}

}  // namespace

FusedNNStep::FusedNNStep() = default;

std::unique_ptr<FusedNNStep> FusedNNStep::create(CollabModelImpl& model, FastaiAdam& optimizer,
                                                 int64_t max_batch) {
  const std::optional<MlpTables> nn = model.mlp_tables();
  if (!nn || nn->embedding_dropout != 0) return nullptr;
  const std::vector<torch::nn::Linear> linears = plain_mlp(nn->mlp);
  if (linears.empty()) return nullptr;
  if (!fused_step_can_use_all(model, optimizer)) return nullptr;

  std::unique_ptr<FusedNNStep> fused(new FusedNNStep());
  fused->output_range_ = OutputRange(model.y_range());
  fused->options_ = optimizer.options();
  fused->max_batch_ = max_batch;
  fused->users_ = std::make_unique<Embedding>(nn->user_embedding->weight, optimizer, max_batch);
  fused->items_ = std::make_unique<Embedding>(nn->item_embedding->weight, optimizer, max_batch);

  int64_t width = fused->users_->table.dim + fused->items_->table.dim;
  auto add_activation = [&](int64_t w) {
    fused->activations_.emplace_back(static_cast<size_t>(max_batch * w), 0.0f);
    fused->gradients_.emplace_back(static_cast<size_t>(max_batch * w), 0.0f);
  };
  add_activation(width);
  for (const auto& linear : linears) {
    const torch::Tensor& w = linear->weight;
    if (w.size(1) != width) return nullptr;  // not a chain of layers
    fused->layers_.push_back({AdamTable(w, optimizer, w.size(0)),
                              AdamTable(linear->bias, optimizer, w.size(0)), w.size(1), w.size(0)});
    width = w.size(0);
    add_activation(width);
  }
  return fused;
}

const float* FusedNNStep::forward_layers(int64_t n) {
  // Linear, then ReLU on all but the output layer.
  const size_t n_layers = layers_.size();
  for (size_t l = 0; l < n_layers; ++l) {
    const Layer& layer = layers_[l];
    float* out = activations_[l + 1].data();
    matmul_abt(activations_[l].data(), layer.weight.param, layer.bias.param, out, n, layer.outputs,
               layer.inputs);
    if (l + 1 < n_layers) {
      // As torch.relu: NaN stays NaN, so a diverging run's loss says so at the same step.
      for (int64_t k = 0; k < n * layer.outputs; ++k) out[k] = out[k] < 0 ? 0.0f : out[k];
    }
  }
  return activations_[n_layers].data();
}

void FusedNNStep::backward_layers(int64_t n) {
  // Per layer: dW = dOut^T In, db = column sums of dOut, dIn = dOut W, then through the ReLU
  // below (zero where it was inactive).
  for (size_t l = layers_.size(); l-- > 0;) {
    Layer& layer = layers_[l];
    const float* d_out = gradients_[l + 1].data();
    const float* in = activations_[l].data();
    float* d_in = gradients_[l].data();
    matmul_ab(d_out, 1, layer.outputs, in, layer.weight.grad.data(), layer.outputs, layer.inputs,
              n);
    float* db = layer.bias.grad.data();
    std::fill_n(db, layer.outputs, 0.0f);
    for (int64_t r = 0; r < n; ++r) add_scaled(db, d_out + r * layer.outputs, 1.0f, layer.outputs);
    matmul_ab(d_out, layer.outputs, 1, layer.weight.param, d_in, n, layer.inputs, layer.outputs);
    if (l > 0) {
      for (int64_t k = 0; k < n * layer.inputs; ++k) {
        if (in[k] <= 0) d_in[k] = 0.0f;  // as threshold_backward: NaN passes
      }
    }
  }
}

double FusedNNStep::forward_backward(const BatchSpan& batch) {
  const int64_t n = batch.size;
  if (n > max_batch_) {
    throw std::logic_error("FusedNNStep: a batch of " + std::to_string(n) + " ratings, more than " +
                           std::to_string(max_batch_));
  }
  const int64_t* x = batch.x;
  const float* y = batch.y;
  AdamTable& users = users_->table;
  AdamTable& items = items_->table;
  const int64_t du = users.dim, di = items.dim, d = du + di;

  // The concatenated embedding rows.
  float* X = activations_[0].data();
  for (int64_t r = 0; r < n; ++r) {
    std::memcpy(X + r * d, users.param + x[2 * r] * du, sizeof(float) * du);
    std::memcpy(X + r * d + du, items.param + x[2 * r + 1] * di, sizeof(float) * di);
  }
  const float* output = forward_layers(n);
  // sigmoid_range, the MSE loss and its gradient with respect to the output layer's output.
  float* output_grad = gradients_.back().data();
  const float norm = 2.0f / static_cast<float>(n);  // d mean((p - y)^2) / dp = 2 (p - y) / n
  double loss = 0;
  for (int64_t r = 0; r < n; ++r) {
    const Prediction pred = output_range_.apply(output[r]);
    const float err = pred.value - y[r];
    loss += static_cast<double>(err) * err;
    output_grad[r] = norm * err * pred.slope;
  }
  backward_layers(n);
  // The input's gradient, scattered into the touched rows of the two tables.
  const float* dX = gradients_[0].data();
  for (int64_t r = 0; r < n; ++r) {
    const int32_t su = users_->touched.slot(x[2 * r]), si = items_->touched.slot(x[2 * r + 1]);
    add_scaled(users.grad.data() + su * du, dX + r * d, 1.0f, du);
    add_scaled(items.grad.data() + si * di, dX + r * d + du, 1.0f, di);
  }
  return loss / static_cast<double>(n);
}

void FusedNNStep::adam_update(double lr, double beta1) {
  // The MovieLens 100k model holds ~260k parameters: one thread, as FusedDotStep below its
  // threshold, where a parallel region's fork and barrier cost what a second thread saves.
  for (Embedding* side : {users_.get(), items_.get()}) {
    AdamTable& t = side->table;
    const AdamScalars s = t.next_step(options_, lr, beta1);
    adam_table_rows(t.param, t.exp_avg, t.exp_avg_root.data(), t.dim, side->touched.slot_of_row(),
                    t.grad.data(), 0, t.rows, s);
  }
  for (Layer& layer : layers_) {
    for (AdamTable* p : {&layer.weight, &layer.bias}) {
      const AdamScalars s = p->next_step(options_, lr, beta1);
      adam_rows_with_grad(p->param, p->exp_avg, p->exp_avg_root.data(), p->grad.data(), p->size(),
                          s);
    }
  }
}

FusedNNStep::~FusedNNStep() {
  flush();  // the optimizer outlives this step
}

void FusedNNStep::flush() {
  if (!users_) return;  // create() gave up before the tables were made
  users_->table.exp_avg_root.write_back();
  items_->table.exp_avg_root.write_back();
  for (const Layer& layer : layers_) {
    layer.weight.exp_avg_root.write_back();
    layer.bias.exp_avg_root.write_back();
  }
}

double FusedNNStep::step(const BatchSpan& batch, double lr, double beta1) {
  const double loss = forward_backward(batch);
  adam_update(lr, beta1);
  users_->clear_gradients();
  items_->clear_gradients();
  return loss;
}

}  // namespace collab
