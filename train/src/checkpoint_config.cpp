#include "collab/train/checkpoint_config.h"

#include "collab/train/epoch_monitor.h"

namespace collab {

CheckpointConfig read_checkpoint_config(ConfigReader& r) {
  CheckpointConfig c;
  c.every_epochs = r.integer("every_epochs", c.every_epochs, /*min=*/0);
  c.every_steps = r.integer("every_steps", c.every_steps, /*min=*/0);
  c.keep_last = r.integer("keep_last", c.keep_last, /*min=*/0);
  // Read only when given, so that the resolved config of a plain run stays as it was.
  if (r.has("best")) c.best = r.choice("best", monitored_metrics());
  r.finish();
  return c;
}

}  // namespace collab
