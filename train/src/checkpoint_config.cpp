#include "collab/train/checkpoint_config.h"

namespace collab {

CheckpointConfig read_checkpoint_config(ConfigReader& r) {
  CheckpointConfig c;
  c.every_epochs = r.integer("every_epochs", c.every_epochs, /*min=*/0);
  c.every_steps = r.integer("every_steps", c.every_steps, /*min=*/0);
  c.keep_last = r.integer("keep_last", c.keep_last, /*min=*/0);
  r.finish();
  return c;
}

}  // namespace collab
