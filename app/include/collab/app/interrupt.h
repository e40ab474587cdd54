// SIGINT and SIGTERM during training: the first one only sets a flag that the training loop
// polls after each step (it then saves a checkpoint and exits 130 or 143); a second one exits at
// once. Checkpoints are written to a temporary file and renamed into place, so exiting at any
// moment leaves every checkpoint either absent or whole.
#pragma once

namespace collab {

// Installs the handlers (SA_RESTART, so interrupted reads and writes continue), leaving a signal
// that is ignored (as for background jobs of a non-interactive shell) ignored. Idempotent.
void install_interrupt_handlers();

// The signal received since install_interrupt_handlers (SIGINT or SIGTERM), or 0.
int interrupt_signal();

// "SIGINT", "SIGTERM", or "a signal".
const char* signal_name(int signal);

}  // namespace collab
