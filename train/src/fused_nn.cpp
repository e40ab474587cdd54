#include "collab/train/fused_nn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "row_kernels.h"
#include "small_matmul.h"

namespace collab {

namespace {

FusedNNStep::Param make_param(const torch::Tensor& tensor, FastaiAdam& optimizer,
                              int64_t grad_size) {
  FastaiAdam::State& state = optimizer.state_of(tensor);
  FusedNNStep::Param p{tensor.data_ptr<float>(),
                       state.exp_avg.data_ptr<float>(),
                       SecondMomentRoot(state.exp_avg_sq),
                       &state.step,
                       tensor.numel(),
                       optimizer.decays(tensor),
                       {}};
  p.grad.assign(static_cast<size_t>(grad_size), 0.0f);
  return p;
}

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

std::unique_ptr<FusedNNStep> FusedNNStep::create(CollabModelImpl& model, FastaiAdam& optimizer,
                                                 int64_t max_batch) {
  const std::optional<MlpTables> nn = model.mlp_tables();
  if (!nn || nn->embedding_dropout != 0) return nullptr;
  const std::vector<torch::nn::Linear> linears = plain_mlp(nn->mlp);
  if (linears.empty()) return nullptr;
  for (const auto& p : model.parameters()) {
    if (!fused_step_can_use(p)) return nullptr;
  }
  for (const auto& state : optimizer.states()) {
    if (!fused_step_can_use(state.exp_avg) || !fused_step_can_use(state.exp_avg_sq)) return nullptr;
  }

  std::unique_ptr<FusedNNStep> fused(new FusedNNStep());
  fused->y_range_ = model.y_range();
  fused->options_ = optimizer.options();
  fused->max_batch_ = max_batch;
  auto make_embedding = [&](Embedding& side, const torch::Tensor& weight) {
    side.rows = weight.size(0);
    side.dim = weight.size(1);
    side.table = make_param(weight, optimizer, max_batch * side.dim);
    side.slot_of_row.assign(static_cast<size_t>(side.rows), -1);
    side.touched.reserve(static_cast<size_t>(max_batch));
  };
  make_embedding(fused->users_, nn->user_embedding->weight);
  make_embedding(fused->items_, nn->item_embedding->weight);

  int64_t width = fused->users_.dim + fused->items_.dim;
  auto add_activation = [&](int64_t w) {
    fused->activations_.emplace_back(static_cast<size_t>(max_batch * w), 0.0f);
    fused->gradients_.emplace_back(static_cast<size_t>(max_batch * w), 0.0f);
  };
  add_activation(width);
  for (const auto& linear : linears) {
    const torch::Tensor& w = linear->weight;
    if (w.size(1) != width) return nullptr;  // not a chain of layers
    fused->layers_.push_back({make_param(w, optimizer, w.numel()),
                              make_param(linear->bias, optimizer, w.size(0)), w.size(1),
                              w.size(0)});
    width = w.size(0);
    add_activation(width);
  }
  return fused;
}

double FusedNNStep::forward_backward(const BatchSpan& batch) {
  const int64_t n = batch.size;
  if (n > max_batch_) {
    throw std::logic_error("FusedNNStep: a batch of " + std::to_string(n) + " ratings, more than " +
                           std::to_string(max_batch_));
  }
  const int64_t* x = batch.x;
  const float* y = batch.y;
  const int64_t du = users_.dim, di = items_.dim, d = du + di;

  // The concatenated embedding rows.
  float* X = activations_[0].data();
  for (int64_t r = 0; r < n; ++r) {
    std::memcpy(X + r * d, users_.table.param + x[2 * r] * du, sizeof(float) * du);
    std::memcpy(X + r * d + du, items_.table.param + x[2 * r + 1] * di, sizeof(float) * di);
  }
  // The MLP: Linear, then ReLU on all but the output layer.
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
  // sigmoid_range, the MSE loss and its gradient with respect to the output layer's output.
  const float* output = activations_[n_layers].data();
  float* output_grad = gradients_[n_layers].data();
  const float lo = y_range_ ? static_cast<float>(y_range_->lo) : 0.0f;
  const float span = y_range_ ? static_cast<float>(y_range_->hi - y_range_->lo) : 1.0f;
  const float norm = 2.0f / static_cast<float>(n);  // d mean((p - y)^2) / dp = 2 (p - y) / n
  double loss = 0;
  for (int64_t r = 0; r < n; ++r) {
    float pred = output[r], dpred = 1.0f;
    if (y_range_) {
      const float s = 1.0f / (1.0f + std::exp(-output[r]));
      pred = s * span + lo;
      dpred = s * (1.0f - s) * span;
    }
    const float err = pred - y[r];
    loss += static_cast<double>(err) * err;
    output_grad[r] = norm * err * dpred;
  }
  // Backward through the layers: dW = dOut^T In, db = column sums of dOut, dIn = dOut W, then
  // through the ReLU below (zero where it was inactive).
  for (size_t l = n_layers; l-- > 0;) {
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
  // The input's gradient, scattered into the touched rows of the two tables.
  auto slot = [](Embedding& side, int64_t row) {
    int32_t& s = side.slot_of_row[static_cast<size_t>(row)];
    if (s < 0) {
      s = static_cast<int32_t>(side.touched.size());
      side.touched.push_back(row);
    }
    return s;
  };
  const float* dX = gradients_[0].data();
  for (int64_t r = 0; r < n; ++r) {
    const int32_t su = slot(users_, x[2 * r]), si = slot(items_, x[2 * r + 1]);
    add_scaled(users_.table.grad.data() + su * du, dX + r * d, 1.0f, du);
    add_scaled(items_.table.grad.data() + si * di, dX + r * d + du, 1.0f, di);
  }
  return loss / static_cast<double>(n);
}

void FusedNNStep::adam_update(double lr, double beta1) {
  // The MovieLens 100k model holds ~260k parameters: one thread, as FusedDotStep below its
  // threshold, where a parallel region's fork and barrier cost what a second thread saves.
  for (Embedding* side : {&users_, &items_}) {
    Param& t = side->table;
    const AdamScalars s = adam_scalars(options_, t.decay, lr, beta1, ++*t.step);
    adam_table_rows(t.param, t.exp_avg, t.exp_avg_root.data(), side->dim, side->slot_of_row.data(),
                    t.grad.data(), 0, side->rows, s);
  }
  for (Layer& layer : layers_) {
    for (Param* p : {&layer.weight, &layer.bias}) {
      const AdamScalars s = adam_scalars(options_, p->decay, lr, beta1, ++*p->step);
      adam_rows_with_grad(p->param, p->exp_avg, p->exp_avg_root.data(), p->grad.data(), p->size, s);
    }
  }
}

FusedNNStep::~FusedNNStep() {
  flush();  // the optimizer outlives this step
}

void FusedNNStep::flush() {
  users_.table.exp_avg_root.write_back();
  items_.table.exp_avg_root.write_back();
  for (const Layer& layer : layers_) {
    layer.weight.exp_avg_root.write_back();
    layer.bias.exp_avg_root.write_back();
  }
}

void FusedNNStep::clear_gradients(Embedding& side) {
  std::fill_n(side.table.grad.begin(), side.touched.size() * static_cast<size_t>(side.dim), 0.0f);
  for (const int64_t row : side.touched) side.slot_of_row[static_cast<size_t>(row)] = -1;
  side.touched.clear();
}

double FusedNNStep::step(const BatchSpan& batch, double lr, double beta1) {
  const double loss = forward_backward(batch);
  adam_update(lr, beta1);
  clear_gradients(users_);
  clear_gradients(items_);
  return loss;
}

}  // namespace collab
