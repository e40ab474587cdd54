// The sparse path of a training run (train.optimizer "sgd" or "sparse_adam"): SparseTrainer over
// blocks of the ratings, logged like the dense path, its final model saved as a checkpoint
// without optimizer state (sparse runs cannot be resumed).
#include <ATen/CPUGeneratorImpl.h>

#include <sstream>

#include "run_setup.h"
#include "collab/train/sparse_train.h"

namespace collab {

namespace {

// The state a sparse run's final checkpoint holds: the model and torch's generator, at the end.
TrainerState final_sparse_state(const CollabModelImpl& model, int64_t epochs, int64_t blocks) {
  TrainerState s;
  s.global_step = epochs * blocks;
  s.epoch = epochs;
  for (const auto& p : model.named_parameters()) s.parameters.emplace_back(p.key(), p.value().detach());
  for (const auto& b : model.named_buffers()) s.buffers.emplace_back(b.key(), b.value().detach());
  s.cpu_generator = at::detail::getDefaultCPUGenerator().get_state();
  s.order_generator = s.cpu_generator;
  return s;
}

std::string sparse_note(const TrainConfig& train, const SparseTrainer& trainer) {
  std::ostringstream note;
  note << train.optimizer << ", " << trainer.grid().size << "x" << trainer.grid().size
       << " blocks (built in " << trainer.setup_seconds() << " s)";
  return note.str();
}

}  // namespace

RunResult run_sparse(const RunSetup& setup) {
  const RunConfig& run = setup.run;
  const size_t n_train = setup.data.train.size();
  // Takes the training ratings over when the caller let it (they are sorted into blocks).
  SparseTrainer trainer(*setup.model,
                        setup.owned_train ? std::move(*setup.owned_train) : setup.data.train,
                        setup.data.valid, run.train);
  if (setup.owned_train) *setup.owned_train = Ratings();
  RunResult result = setup.result();
  RunFiles files = setup.open_files(json::array());
  result.run_dir = files.run_dir();
  if (setup.options.hooks.on_start) {
    RunStart start = setup.start(files.run_dir());
    start.train_ratings = n_train;
    start.sparse_note = sparse_note(run.train, trainer);
    start.steps_per_epoch = trainer.grid().size;
    start.total_steps = run.train.epochs * trainer.grid().size;
    setup.options.hooks.on_start(start);
  }
  result.epochs = trainer.fit([&](const EpochMetrics& m) {
    if (files.active()) files.log_epoch(m);
    if (setup.options.hooks.on_epoch) setup.options.hooks.on_epoch(m);
  });
  if (files.active() && run.checkpoint.enabled()) {
    result.last_checkpoint = files.save_checkpoint(
        final_sparse_state(*setup.model, run.train.epochs, trainer.grid().size));
  }
  result.epoch = run.train.epochs;
  result.global_step = result.total_steps = run.train.epochs * trainer.grid().size;
  result.final_metrics = trainer.evaluate();
  result.train_seconds = trainer.train_seconds();
  result.train_cpu_seconds = trainer.train_cpu_seconds();
  result.rating_updates = static_cast<double>(n_train) * static_cast<double>(run.train.epochs);
  return result;
}

}  // namespace collab
