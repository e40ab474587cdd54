// SparseTrainer's run control (sparse_train.h): passes, stop requests and checkpoints at round
// boundaries, and the state a checkpoint holds. The kernels are in sparse_train.cpp and
// sgd_kernel.cpp.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <numeric>

#include "collab/common/error.h"
#include "collab/train/sparse_train.h"
#include "sparse_tables.h"

namespace collab {

std::optional<EpochMetrics> SparseTrainer::run_epoch(const FitHooks& hooks) {
  if (!threads_awake_) wake_threads();
  const auto start = std::chrono::steady_clock::now();
  const CheckpointConfig& c = hooks.checkpoint;
  while (round_ < grid_.size) {
    run_round();
    if (round_ == grid_.size) break;  // the pass's end: evaluated first, then checkpointed
    const bool due = c.every_steps > 0 && global_step() % c.every_steps == 0;
    if (due && hooks.on_checkpoint) checkpoint(hooks);
    if (stop_requested(hooks)) {
      if (hooks.on_checkpoint && checkpointed_step_ != global_step()) checkpoint(hooks);
      stopped_ = true;
      train_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return std::nullopt;
    }
  }
  assemble_tables();
  const double loss = std::accumulate(block_loss_.begin(), block_loss_.end(), 0.0) /
                      static_cast<double>(train_.size());
  train_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EpochMetrics m;
  m.epoch = epoch_++;
  round_ = 0;
  m.train_loss = loss;
  m.train_loss_mean = loss;
  // Rank 0 reports for a distributed run, as the dense path's does.
  if (collective_ == nullptr || collective_->rank() == 0) m.valid = evaluate();
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

void SparseTrainer::wake_threads() {
  // The pool's threads have slept since the block grid was built (reading and setting up take
  // longer than they spin): waking one on an idle vCPU of a busy host took up to ~25 ms, which
  // the first pass paid in its first round (bench/RESULTS.md Session 12). Paid here instead,
  // before the clock starts, the first round finds them spinning as every later one does.
#pragma omp parallel num_threads(static_cast <int>(threads_))
  at::globalContext().setFlushDenormal(true);
  threads_awake_ = true;
}

void SparseTrainer::checkpoint(const FitHooks& hooks) {
  // At a pass's end run_epoch has assembled the tables already.
  if (round_ != 0) assemble_tables();
  const double loss = std::accumulate(block_loss_.begin(), block_loss_.end(), 0.0);
  if (!std::isfinite(loss)) {
    throw TrainingDiverged("training diverged: the loss became " + std::to_string(loss) +
                           " in epoch " + std::to_string(epoch_) + " (try a smaller train.lr_max)");
  }
  hooks.on_checkpoint(state());
  checkpointed_step_ = global_step();
}

std::vector<EpochMetrics> SparseTrainer::fit(const FitHooks& hooks) {
  const CheckpointConfig& c = hooks.checkpoint;
  stopped_ = false;
  checkpointed_step_ = -1;
  std::vector<EpochMetrics> history;
  while (epoch_ < config_.epochs) {
    std::optional<EpochMetrics> m = run_epoch(hooks);
    if (!m) break;  // stopped mid-pass, checkpointed
    history.push_back(*m);
    if (!std::isfinite(m->train_loss)) {
      throw TrainingDiverged("training diverged: the loss became " + std::to_string(m->train_loss) +
                             " at epoch " + std::to_string(m->epoch) +
                             " (try a smaller train.lr_max)");
    }
    if (hooks.on_epoch) hooks.on_epoch(*m);
    const bool due = c.enabled() && (epoch_ == config_.epochs ||
                                     (c.every_epochs > 0 && epoch_ % c.every_epochs == 0) ||
                                     (c.every_steps > 0 && global_step() % c.every_steps == 0));
    if (due && hooks.on_checkpoint) checkpoint(hooks);
    if (epoch_ < config_.epochs && stop_requested(hooks)) {
      stopped_ = true;
      if (hooks.on_checkpoint && checkpointed_step_ != global_step()) checkpoint(hooks);
      break;
    }
  }
  return history;
}

std::vector<EpochMetrics> SparseTrainer::fit(
    const std::function<void(const EpochMetrics&)>& on_epoch) {
  FitHooks hooks;
  hooks.on_epoch = on_epoch;
  return fit(hooks);
}

namespace {

// A live std::vector as a tensor view of `shape` (no copy: state() is saved before the next round).
template <class T>
torch::Tensor view_of(const std::vector<T>& values, std::vector<int64_t> shape, torch::Dtype type) {
  return torch::from_blob(const_cast<T*>(values.data()), shape, torch::TensorOptions(type));
}

// Copies `saved` into `values`, which must hold as many elements of the same type.
template <class T>
void copy_into(std::vector<T>& values, const torch::Tensor& saved, torch::Dtype type,
               const std::string& what) {
  if (!saved.defined() || saved.scalar_type() != type ||
      saved.numel() != static_cast<int64_t>(values.size())) {
    throw Error("the checkpoint's " + what + " does not fit this run's tables or block grid " +
                "(train.blocks, train.threads and the data must be those of the saved run)");
  }
  std::memcpy(values.data(), saved.contiguous().data_ptr(), values.size() * sizeof(T));
}

const torch::Tensor* find_named(const std::vector<std::pair<std::string, torch::Tensor>>& named,
                                const std::string& name) {
  for (const auto& [key, value] : named) {
    if (key == name) return &value;
  }
  return nullptr;
}

}  // namespace

std::vector<std::pair<std::string, SparseTrainer::Table*>> SparseTrainer::named_tables() const {
  std::vector<std::pair<std::string, Table*>> out = {{"user_factors", &tables_->user_factors},
                                                     {"item_factors", &tables_->item_factors}};
  if (tables_->has_biases()) {
    out.emplace_back("user_bias", &tables_->user_bias);
    out.emplace_back("item_bias", &tables_->item_bias);
  }
  return out;
}

TrainerState SparseTrainer::state() const {
  TrainerState s;
  s.global_step = global_step();
  s.epoch = epoch_;
  s.batch = round_;
  for (const auto& p : model_->named_parameters()) s.parameters.emplace_back(p.key(), p.value().detach());
  for (const auto& b : model_->named_buffers()) s.buffers.emplace_back(b.key(), b.value().detach());
  {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    s.cpu_generator = generator.get_state();
  }
  s.order_generator = s.cpu_generator;
  const int64_t B = grid_.size;
  s.sparse.emplace_back("block_loss", view_of(block_loss_, {B, B}, torch::kDouble));
  if (!lazy_adam_) return s;
  for (const auto& [name, table] : named_tables()) {
    s.optimizer.push_back({name, view_of(table->exp_avg, {table->rows, table->dim}, torch::kFloat),
                           view_of(table->exp_avg_sq, {table->rows, table->dim}, torch::kFloat), 0});
    // As int64, a type checkpoints hold (a copy: the steps are 4 bytes a row).
    s.sparse.emplace_back(name + ".steps",
                          view_of(table->steps, {table->rows}, torch::kInt).to(torch::kLong));
  }
  return s;
}

void SparseTrainer::restore(const TrainerState& s) {
  const int64_t B = grid_.size;
  if (s.epoch < 0 || s.batch < 0 || s.batch >= B || s.global_step != s.epoch * B + s.batch) {
    throw Error("the checkpoint is at epoch " + std::to_string(s.epoch) + ", round " +
                std::to_string(s.batch) + ", step " + std::to_string(s.global_step) +
                ", which is no position of this run's " + std::to_string(B) + "x" +
                std::to_string(B) + " block grid");
  }
  const torch::Tensor* losses = find_named(s.sparse, "block_loss");
  if (!losses) {
    throw Error("the checkpoint holds no sparse-path state (an older collab saved only the "
                "final model of sparse runs); start a new run");
  }
  copy_into(block_loss_, *losses, torch::kDouble, "block losses");
  if (lazy_adam_) {
    const auto tables = named_tables();
    if (s.optimizer.size() != tables.size()) {
      throw Error("the checkpoint holds no lazy Adam state for this model's tables");
    }
    for (size_t k = 0; k < tables.size(); ++k) {
      auto& [name, table] = tables[k];
      const torch::Tensor* steps = find_named(s.sparse, name + ".steps");
      if (s.optimizer[k].name != name || !steps) {
        throw Error("the checkpoint's lazy Adam state does not name table " + name);
      }
      copy_into(table->exp_avg, s.optimizer[k].exp_avg, torch::kFloat, name + " moments");
      copy_into(table->exp_avg_sq, s.optimizer[k].exp_avg_sq, torch::kFloat, name + " moments");
      const torch::Tensor saved_steps =
          steps->scalar_type() == torch::kLong ? steps->to(torch::kInt) : *steps;
      copy_into(table->steps, saved_steps, torch::kInt, name + " row steps");
    }
  }
  load_model_state(*model_, s);
  // The sparse path draws nothing from torch's generator; it is kept for what runs after.
  if (s.cpu_generator.defined()) {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(s.cpu_generator);
  }
  epoch_ = s.epoch;
  round_ = s.batch;
}


}  // namespace collab
