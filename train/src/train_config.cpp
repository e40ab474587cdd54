#include "collab/train/train_config.h"

namespace collab {

TrainConfig read_train_config(ConfigReader& r) {
  TrainConfig c;
  // Bounded so that epochs x steps per epoch (and every step count) fits in 64 bits.
  c.epochs = r.integer("epochs", c.epochs, /*min=*/1, /*max=*/1000000);
  c.batch_size = r.integer("batch_size", c.batch_size, /*min=*/1);
  c.one_cycle.lr_max = r.number("lr_max", c.one_cycle.lr_max, NumberRange::positive());
  c.adam.weight_decay = r.number("weight_decay", c.adam.weight_decay, NumberRange::non_negative());
  c.seed = static_cast<uint64_t>(r.integer("seed", static_cast<int64_t>(c.seed), /*min=*/0));
  c.threads = r.integer("threads", c.threads, /*min=*/0, /*max=*/1024);
  c.device = r.string("device", c.device);
  c.eval_batch_size = r.integer("eval_batch_size", c.eval_batch_size, /*min=*/1);
  c.fused = r.boolean("fused", c.fused);
  c.data_placement = r.choice("data_placement", {"auto", "device", "staged"}, c.data_placement);
  c.sync_every = r.integer("sync_every", c.sync_every, /*min=*/0);
  c.optimizer = r.choice("optimizer", {"adam", "sparse_adam", "sgd"}, c.optimizer);
  c.blocks = r.integer("blocks", c.blocks, /*min=*/0, /*max=*/4096);
  c.lr_schedule = r.choice("lr_schedule", {"one_cycle", "constant"}, c.lr_schedule);
  c.one_cycle.pct_start =
      r.number("pct_start", c.one_cycle.pct_start, {0, 1, false, false, "a number in (0, 1)"});
  // Within these bounds lr_max / div stays a float the optimizer can use (1e-300 would make the
  // schedule's lr infinite and the run "diverge" for no fault of lr_max).
  const NumberRange divisor{1e-6, 1e30, true, true, "a number in [1e-6, 1e30]"};
  c.one_cycle.div = r.number("div", c.one_cycle.div, divisor);
  c.one_cycle.div_final = r.number("div_final", c.one_cycle.div_final, divisor);
  const json moms = r.raw("moms", json(c.one_cycle.moms));
  if (!moms.is_array() || moms.size() != 3) {
    r.fail("moms", "expected three numbers in [0, 1), got " + describe(moms));
  }
  for (size_t k = 0; k < 3; ++k) {
    if (!moms[k].is_number() || !(moms[k].get<double>() >= 0 && moms[k].get<double>() < 1)) {
      r.fail("moms", "expected three numbers in [0, 1), got " + describe(moms));
    }
    c.one_cycle.moms[k] = moms[k].get<double>();
  }
  c.adam.beta2 = r.number("beta2", c.adam.beta2, NumberRange::unit_interval_open_right());
  c.adam.eps = r.number("eps", c.adam.eps, NumberRange::positive());
  // Read only when given, so that the resolved config of a plain run stays as it was.
  if (r.has("distributed")) {
    ConfigReader d = r.object("distributed");
    c.distributed.backend = d.choice("backend", {"gloo", "nccl"}, c.distributed.backend);
    c.distributed.timeout_s = d.integer("timeout_s", c.distributed.timeout_s, /*min=*/1);
    d.finish();
  }
  c.early_stopping = read_early_stopping(r);
  r.finish();
  return c;
}

}  // namespace collab
