// collab's one SIGINT/SIGTERM handler, in the two behaviours its commands need.
// Training (kCheckpointThenExit): the first signal only sets a flag that the training loop polls
// after each step (it then saves a checkpoint and exits 130 or 143); a second one exits at once.
// Checkpoints are written to a temporary file and renamed into place, so exiting at any moment
// leaves every checkpoint either absent or whole.
// Writing a file (kStopThenExit, recommend --all-users): as training, but the first signal means
// "stop before the next block of work"; the command then leaves its output uncommitted (no file)
// and exits 130 or 143.
// Launching workers (kRecordOnly): every signal is only counted, for `collab launch` to forward
// to its workers; system calls it interrupts fail with EINTR, so a waiting launcher wakes up.
#pragma once

namespace collab {

enum class InterruptMode { kCheckpointThenExit, kStopThenExit, kRecordOnly };

// Installs the handlers. kCheckpointThenExit and kStopThenExit: SA_RESTART (interrupted reads and writes
// continue), and a signal ignored at startup (as for background jobs of a non-interactive shell)
// stays ignored. kRecordOnly: no SA_RESTART, both signals blocked while the handler runs.
void install_interrupt_handlers(InterruptMode mode = InterruptMode::kCheckpointThenExit);

// The signal received since install_interrupt_handlers (SIGINT or SIGTERM; the last one in
// kRecordOnly), or 0.
int interrupt_signal();
// How many signals were received since install_interrupt_handlers.
int interrupt_count();

// SIGHUP as a request to reload (`collab serve` re-reads its model): the handler only counts it.
void install_reload_handler();
// Whether a SIGHUP came since the last call.
bool take_reload_request();

// "SIGINT", "SIGTERM", or "a signal".
const char* signal_name(int signal);

}  // namespace collab
