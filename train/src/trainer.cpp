#include "collab/train/trainer.h"

#include <chrono>
#include <cmath>
#include <functional>
#include <mutex>
#include <unordered_map>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include "collab/common/error.h"
#include "collab/train/device.h"
#include "collab/train/distributed.h"

namespace collab {

void flush_denormals_on_all_threads() {
  // The flag lives in each thread's MXCSR register: set it on the caller and on every worker of
  // LibTorch's intra-op pool (parallel_for with grain 1 hands each worker one index).
  at::globalContext().setFlushDenormal(true);
  const int64_t n = at::get_num_threads();
  at::parallel_for(0, n, /*grain_size=*/1,
                   [](int64_t, int64_t) { at::globalContext().setFlushDenormal(true); });
}

int64_t training_bytes(const Ratings& ratings) {
  // As to_batch() stores them: two int64 indices and a float rating each.
  return static_cast<int64_t>(ratings.size()) * (2 * 8 + 4);
}

void SmoothedLoss::add(double value) {
  ++count_;
  average_ = beta_ * average_ + (1.0 - beta_) * value;
}

double SmoothedLoss::value() const {
  return count_ == 0 ? 0.0 : average_ / (1.0 - std::pow(beta_, static_cast<double>(count_)));
}

Trainer::Trainer(CollabModel model, const Dataset& data, const TrainConfig& config,
                 const torch::Device& device)
    : model_(std::move(model)),
      config_(config),
      device_(device),
      batches_(to_batch(data.train, training_data_device(config.data_placement, device,
                                                         training_bytes(data.train))),
               config.batch_size, device),
      valid_(to_batch(data.valid, device)),
      optimizer_(fastai_param_groups(*model_), config.adam),
      schedule_(config.one_cycle, config.epochs * batches_.size()),
      order_generator_(at::make_generator<at::CPUGeneratorImpl>(config.seed)),
      loss_log_(loss_sync_interval(config.sync_every, device), device) {
  flush_denormals_on_all_threads();
}

RatingMetrics Trainer::evaluate() {
  if (fused_) {
    fused_->flush();
    if (std::optional<torch::Tensor> p = fused_->predict(valid_.x)) {
      return rating_metrics(*p, valid_.y);
    }
  }
  return rating_metrics(predict(*model_, valid_, config_.eval_batch_size), valid_.y);
}

namespace {

// Generators are shared with other threads (DataLoader workers in other programs, LibTorch
// itself): PyTorch reads and writes their state under the generator's own mutex.
torch::Tensor generator_state(at::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_generator_state(at::Generator generator, const torch::Tensor& state, const char* what) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  try {
    generator.set_state(state);
  } catch (const c10::Error&) {
    throw Error(std::string("the checkpoint's ") + what + " generator state does not fit (" +
                std::to_string(state.numel()) + " bytes)");
  }
}

std::string shape_text(const torch::Tensor& t) {
  std::string text = "[";
  for (int64_t d = 0; d < t.dim(); ++d) text += (d ? ", " : "") + std::to_string(t.size(d));
  return text + "]";
}

// Copies `saved` into the same-named tensors of `live`, requiring the same names, shapes and
// dtypes on both sides (anything else means another architecture or data), except that a buffer
// the model sizes from its data (`data_sized`) takes the saved size.
void copy_named(const torch::OrderedDict<std::string, torch::Tensor>& live,
                const std::vector<std::pair<std::string, torch::Tensor>>& saved,
                const std::string& what, const std::function<bool(const std::string&)>& data_sized) {
  for (const auto& [name, value] : saved) {
    const torch::Tensor* target = live.find(name);
    if (target == nullptr) {
      throw Error("the checkpoint's " + what + " \"" + name + "\" is not in the model");
    }
    if (data_sized && data_sized(name) && target->dtype() == value.dtype()) {
      target->resize_(value.sizes());
    }
    if (!target->sizes().equals(value.sizes()) || target->dtype() != value.dtype()) {
      throw Error(what + " \"" + name + "\" is " + shape_text(value) + " in the checkpoint but " +
                  shape_text(*target) + " in the model");
    }
    target->copy_(value);
  }
  for (const auto& item : live) {
    bool found = false;
    for (const auto& entry : saved) found = found || entry.first == item.key();
    if (!found)
      throw Error("the model's " + what + " \"" + item.key() + "\" is not in the checkpoint");
  }
}

}  // namespace

void load_model_state(CollabModelImpl& model, const TrainerState& state) {
  torch::NoGradGuard no_grad;
  copy_named(model.named_parameters(), state.parameters, "parameter", nullptr);
  copy_named(model.named_buffers(), state.buffers, "buffer",
             [&model](const std::string& name) { return model.data_sized_buffer(name); });
}

void Trainer::train_step(int64_t b, double lr, double beta1) {
  if (fused_) {
    // The batch after this one, whose rows the step may bring up to date meanwhile.
    if (b + 1 < batches_.size()) fused_->prepare(batches_.span(b + 1));
    loss_log_.add(collective_ ? fused_->step_slice(batches_.span(b), rank_slice(b), lr, beta1)
                              : fused_->step(batches_.span(b), lr, beta1));
    return;
  }
  const Batch batch = batches_[b];
  if (collective_) {
    distributed_step(batch, lr, beta1);
    return;
  }
  const torch::Tensor loss = torch::mse_loss(model_->forward(batch.x), batch.y);
  optimizer_.zero_grad();
  loss.backward();
  optimizer_.step(lr, beta1);
  loss_log_.add(loss);
}

void Trainer::distributed_step(const Batch& batch, double lr, double beta1) {
  // Rank r's slice of the global batch; the slices tile it, so the sum over ranks of
  // (slice mean loss x slice share) is the global batch's mean loss, and so are its gradients.
  const int64_t global = batch.y.size(0);
  const int64_t ranks = collective_->world_size(), rank = collective_->rank();
  const int64_t begin = global * rank / ranks, end = global * (rank + 1) / ranks;
  const torch::Tensor x = batch.x.narrow(0, begin, end - begin);
  const torch::Tensor y = batch.y.narrow(0, begin, end - begin);
  const double share = static_cast<double>(end - begin) / static_cast<double>(global);
  const torch::Tensor loss = torch::mse_loss(model_->forward(x), y) * share;
  optimizer_.zero_grad();
  loss.backward();
  // One flat buffer for every gradient and the loss: a single allreduce per step.
  std::vector<torch::Tensor> reduced;
  for (auto& p : model_->parameters()) {
    // A parameter this slice did not reach still takes part, so that all ranks send the same
    // buffer layout.
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    reduced.push_back(p.grad());
  }
  reduced.push_back(loss.detach().reshape({1}).to(reduced.front().scalar_type()).clone());
  // This rank's vote to stop after this step rides on the same allreduce, so that every rank
  // reads the same sum and all stop after the same step (a rank that stopped alone would leave
  // the others failing their next allreduce). Reading it syncs with the device once per step.
  reduced.push_back(torch::full({1}, stop_vote_ ? 1.0 : 0.0, reduced.front().options()));
  collective_->allreduce_sum(reduced);
  optimizer_.step(lr, beta1);
  stop_agreed_ = reduced.back().item<double>() > 0;
  loss_log_.add(reduced[reduced.size() - 2]);
}

StepSlice Trainer::rank_slice(int64_t b) {
  const int64_t global = batches_.span(b).size;
  const int64_t ranks = collective_->world_size(), rank = collective_->rank();
  StepSlice slice;
  slice.begin = global * rank / ranks;
  slice.end = global * (rank + 1) / ranks;
  // This rank's vote to stop rides on the step's one allreduce, as in distributed_step.
  slice.sum = [this](std::vector<torch::Tensor>& tensors) {
    tensors.push_back(torch::full({1}, stop_vote_ ? 1.0f : 0.0f, torch::kFloat));
    collective_->allreduce_sum(tensors);
    stop_agreed_ = tensors.back().item<float>() > 0;
    tensors.pop_back();
  };
  return slice;
}

bool Trainer::stop_at_epoch_end(const FitHooks& hooks) {
  const bool local = hooks.stop_requested && hooks.stop_requested();
  if (collective_ == nullptr) return local;
  std::vector<torch::Tensor> vote = {
      torch::full({1}, local ? 1.0 : 0.0, model_->parameters().front().options())};
  collective_->allreduce_sum(vote);
  return vote.front().item<double>() > 0;
}

void Trainer::account_losses() {
  const int64_t first_step = step_ - loss_log_.size() + 1;  // 1-based, as printed
  loss_log_.take(losses_);
  for (size_t k = 0; k < losses_.size(); ++k) {
    const double value = losses_[k];
    if (!std::isfinite(value)) {
      const std::string shown = std::isnan(value) ? "NaN" : value > 0 ? "inf" : "-inf";
      throw TrainingDiverged("training diverged: the loss became " + shown + " at epoch " +
                             std::to_string(epoch_) + ", step " +
                             std::to_string(first_step + static_cast<int64_t>(k)) +
                             " (try a smaller train.lr_max)");
    }
    epoch_loss_sum_ += value;
    smoothed_loss_.add(value);
  }
}

void Trainer::checkpoint(const FitHooks& hooks) {
  if (fused_) fused_->flush();
  torch::NoGradGuard no_grad;
  for (const auto& p : model_->named_parameters()) {
    if (!torch::isfinite(p.value()).all().item<bool>()) {
      throw TrainingDiverged("training diverged: parameter \"" + p.key() +
                             "\" holds NaN or infinite values after epoch " +
                             std::to_string(epoch_) + ", step " + std::to_string(step_) +
                             " (try a smaller train.lr_max)");
    }
  }
  hooks.on_checkpoint(state());
  checkpointed_step_ = step_;
}

std::optional<EpochMetrics> Trainer::run_epoch(const FitHooks& hooks) {
  const auto start = std::chrono::steady_clock::now();
  model_->train();
  // Kept so that a mid-epoch checkpoint can re-draw this epoch's order. After restore() the
  // generator already holds the saved pre-shuffle state, so this is right for a resume too.
  epoch_order_state_ = generator_state(order_generator_);
  batches_.shuffle(order_generator_);
  const int64_t n_batches = batches_.size();
  const int64_t every_steps = hooks.on_checkpoint ? hooks.checkpoint.every_steps : 0;
  while (batch_ < n_batches) {
    // A distributed step carries this vote (see distributed_step).
    stop_vote_ = collective_ && hooks.stop_requested && hooks.stop_requested();
    train_step(batch_, schedule_.lr(step_), schedule_.beta1(step_));
    ++step_;
    ++batch_;
    // A step that ends the epoch is checkpointed after the evaluation, by fit().
    const bool last = batch_ == n_batches;
    const bool checkpoint_due = !last && every_steps > 0 && step_ % every_steps == 0;
    const bool stop =
        !last && (collective_ ? stop_agreed_ : hooks.stop_requested && hooks.stop_requested());
    if (loss_log_.full() || last || checkpoint_due || stop) account_losses();
    if (last) break;
    if (checkpoint_due) checkpoint(hooks);
    if (stop) {
      stopped_ = true;
      if (hooks.on_checkpoint && checkpointed_step_ != step_) checkpoint(hooks);
      return std::nullopt;
    }
  }
  EpochMetrics m;
  m.epoch = epoch_++;
  m.train_loss = smoothed_loss_.value();
  m.train_loss_mean = epoch_loss_sum_ / static_cast<double>(n_batches);
  batch_ = 0;
  epoch_loss_sum_ = 0;
  if (collective_ == nullptr || collective_->rank() == 0) m.valid = evaluate();
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

std::vector<EpochMetrics> Trainer::fit(const std::function<void(const EpochMetrics&)>& on_epoch) {
  FitHooks hooks;
  hooks.on_epoch = on_epoch;
  return fit(hooks);
}

bool Trainer::serial_autograd_steps() const {
  // A step of a small model is dozens of small ops: each that LibTorch splits over the pool wakes
  // the other threads, which costs more than the op (SVDpp and HybridDotProductBias on MovieLens
  // 100k train 3.7x faster on one thread of two; bench/RESULTS.md, Session 13). From about 2M
  // parameters (the dense Adam update over them) the pool pays. A train.threads the user set,
  // and a rank of a data-parallel run, keep their threads.
  if (config_.threads > 0 || collective_ != nullptr || !device_.is_cpu()) return false;
  int64_t parameters = 0;
  for (const auto& p : model_->parameters()) parameters += p.numel();
  return parameters < kSerialAutogradParameters;
}

std::vector<EpochMetrics> Trainer::fit(const FitHooks& hooks) {
  const CheckpointConfig& c = hooks.checkpoint;
  fused_ = config_.fused ? make_fused_step(*model_, optimizer_, config_.batch_size) : nullptr;
  // A rank trains by autograd unless its fused step can take slices of the global batch.
  if (fused_ && collective_ && !fused_->can_step_slices()) fused_ = nullptr;
  // One intra-op thread while a fused step runs its own (FusedStep::runs_own_threads), or while a
  // small model trains by autograd on the CPU (serial_autograd_steps); the count comes back when
  // fit() returns or throws.
  struct IntraOpThreads {
    int saved = at::get_num_threads();
    explicit IntraOpThreads(bool one) {
      if (one) at::set_num_threads(1);
    }
    ~IntraOpThreads() {
      if (at::get_num_threads() != saved) at::set_num_threads(saved);
    }
  } intra_op_threads(fused_ ? fused_->runs_own_threads() : serial_autograd_steps());
  stopped_ = false;
  checkpointed_step_ = -1;
  if (collective_) {
    if (config_.batch_size < collective_->world_size()) {
      throw Error("train.batch_size " + std::to_string(config_.batch_size) + " is smaller than " +
                  "the " + std::to_string(collective_->world_size()) +
                  " ranks: each needs at least one rating of every global batch");
    }
    // Start from rank 0's parameters, as DistributedDataParallel does.
    std::vector<torch::Tensor> params;
    for (const auto& p : model_->parameters()) params.push_back(p.detach());
    collective_->broadcast(params, 0);
  }
  std::vector<EpochMetrics> history;
  while (epoch_ < config_.epochs) {
    std::optional<EpochMetrics> m = run_epoch(hooks);
    if (!m) break;  // stopped mid-epoch, checkpointed
    history.push_back(*m);
    if (hooks.on_epoch) hooks.on_epoch(history.back());
    const bool due = c.enabled() && (epoch_ == config_.epochs ||
                                     (c.every_epochs > 0 && epoch_ % c.every_epochs == 0) ||
                                     (c.every_steps > 0 && step_ % c.every_steps == 0));
    if (due && hooks.on_checkpoint) checkpoint(hooks);
    if (epoch_ < config_.epochs && stop_at_epoch_end(hooks)) {
      stopped_ = true;
      if (hooks.on_checkpoint && checkpointed_step_ != step_) checkpoint(hooks);
      break;
    }
  }
  if (fused_) fused_->flush();  // the model is read after fit() returns
  return history;
}

double Trainer::sweep_step(double lr, double beta1) {
  model_->train();
  if (batch_ == 0) batches_.shuffle(order_generator_);
  train_step(batch_, lr, beta1);
  ++step_;
  if (++batch_ == batches_.size()) batch_ = 0;
  loss_log_.take(losses_);
  return losses_.back();
}

TrainerState Trainer::state() {
  if (fused_) fused_->flush();
  if (loss_log_.size() > 0) account_losses();
  TrainerState s;
  s.global_step = step_;
  s.epoch = epoch_;
  s.batch = batch_;
  s.epoch_loss_sum = epoch_loss_sum_;
  s.smoothed_loss_average = smoothed_loss_.average();
  s.smoothed_loss_count = smoothed_loss_.count();
  std::unordered_map<const void*, std::string> names;
  for (const auto& p : model_->named_parameters()) {
    s.parameters.emplace_back(p.key(), p.value().detach());
    names[p.value().unsafeGetTensorImpl()] = p.key();
  }
  for (const auto& b : model_->named_buffers()) s.buffers.emplace_back(b.key(), b.value().detach());
  size_t index = 0;
  for (const auto& group : optimizer_.groups()) {
    for (const auto& p : group.params) {
      const FastaiAdam::State& st = optimizer_.states()[index++];
      s.optimizer.push_back({names.at(p.unsafeGetTensorImpl()), st.exp_avg.detach(),
                             st.exp_avg_sq.detach(), st.step});
    }
  }
  s.cpu_generator = generator_state(at::detail::getDefaultCPUGenerator());
  if (device_.is_cuda() && torch::cuda::is_available()) {
    for (size_t d = 0; d < torch::cuda::device_count(); ++d) {
      s.cuda_generators.push_back(generator_state(at::globalContext().defaultGenerator(
          torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(d)))));
    }
  }
  // Between epochs the generator holds exactly the state the next epoch's shuffle will start
  // from; inside one, the state from before this epoch's shuffle.
  s.order_generator = batch_ == 0 ? generator_state(order_generator_) : epoch_order_state_;
  return s;
}

void Trainer::restore(const TrainerState& s) {
  fused_.reset();  // its pending steps belong to the parameters about to be replaced
  const int64_t n_batches = batches_.size();
  if (s.batch < 0 || s.batch >= n_batches) {
    throw Error("the checkpoint is at batch " + std::to_string(s.batch) + " of an epoch, but an " +
                "epoch now has " + std::to_string(n_batches) + " batches");
  }
  if (s.global_step != s.epoch * n_batches + s.batch) {
    throw Error("the checkpoint's step " + std::to_string(s.global_step) + " is not epoch " +
                std::to_string(s.epoch) + " x " + std::to_string(n_batches) + " batches + batch " +
                std::to_string(s.batch) + " (was train.batch_size or the data changed?)");
  }
  if (s.epoch > config_.epochs || (s.epoch == config_.epochs && s.batch > 0)) {
    throw Error("the checkpoint is at epoch " + std::to_string(s.epoch) + ", batch " +
                std::to_string(s.batch) + ", past train.epochs " + std::to_string(config_.epochs));
  }
  load_model_state(*model_, s);

  // Optimizer state, matched to parameters by name.
  std::unordered_map<std::string, const TrainerState::AdamEntry*> saved;
  for (const auto& entry : s.optimizer) saved[entry.name] = &entry;
  std::unordered_map<const void*, std::string> names;
  for (const auto& p : model_->named_parameters()) names[p.value().unsafeGetTensorImpl()] = p.key();
  if (saved.size() != s.optimizer.size() || saved.size() != names.size()) {
    throw Error("the checkpoint's optimizer state covers " + std::to_string(s.optimizer.size()) +
                " parameters, the model has " + std::to_string(names.size()));
  }
  torch::NoGradGuard no_grad;
  size_t index = 0;
  for (const auto& group : optimizer_.groups()) {
    for (const auto& p : group.params) {
      const std::string& name = names.at(p.unsafeGetTensorImpl());
      const auto it = saved.find(name);
      if (it == saved.end()) {
        throw Error("the checkpoint has no optimizer state for parameter \"" + name + "\"");
      }
      FastaiAdam::State& st = optimizer_.states()[index++];
      const TrainerState::AdamEntry& e = *it->second;
      if (!e.exp_avg.sizes().equals(st.exp_avg.sizes()) ||
          !e.exp_avg_sq.sizes().equals(st.exp_avg_sq.sizes())) {
        throw Error("the checkpoint's optimizer state of \"" + name + "\" is " +
                    shape_text(e.exp_avg) + ", the parameter " + shape_text(st.exp_avg));
      }
      st.exp_avg.copy_(e.exp_avg);
      st.exp_avg_sq.copy_(e.exp_avg_sq);
      st.step = e.step;
    }
  }

  set_generator_state(at::detail::getDefaultCPUGenerator(), s.cpu_generator, "CPU");
  // CUDA states are restored only onto as many devices as the run had; a CUDA run resumed on
  // the CPU (or the reverse) continues, but not bit-identically.
  if (device_.is_cuda() && torch::cuda::is_available() &&
      s.cuda_generators.size() == torch::cuda::device_count()) {
    for (size_t d = 0; d < s.cuda_generators.size(); ++d) {
      set_generator_state(at::globalContext().defaultGenerator(
                              torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(d))),
                          s.cuda_generators[d], "CUDA");
    }
  }
  set_generator_state(order_generator_, s.order_generator, "batch-order");
  epoch_order_state_ = s.order_generator;
  step_ = s.global_step;
  epoch_ = s.epoch;
  batch_ = s.batch;
  epoch_loss_sum_ = s.epoch_loss_sum;
  smoothed_loss_.restore(s.smoothed_loss_average, s.smoothed_loss_count);
}

}  // namespace collab
