#include "collab/app/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

namespace collab {

namespace {

// Written only by the handler (which blocks the other signal while it runs, so it never races
// with itself); sig_atomic_t is the one type a handler may store to safely.
volatile std::sig_atomic_t g_signal = 0;
volatile std::sig_atomic_t g_count = 0;
volatile std::sig_atomic_t g_record_only = 0;  // set before the handlers are installed
volatile std::sig_atomic_t g_stop_only = 0;    // likewise: kStopThenExit, no checkpoint to save

volatile std::sig_atomic_t g_reloads = 0;  // SIGHUPs received
std::sig_atomic_t g_reloads_taken = 0;     // read by take_reload_request only

void on_reload_signal(int) { g_reloads = g_reloads + 1; }

void write_stderr(const char* text) {
  // write(2) is async-signal-safe; a failed write has nowhere better to go.
  const ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

void on_signal(int sig) {
  g_count = g_count + 1;
  if (g_record_only) {
    g_signal = sig;
    return;
  }
  if (g_signal != 0) {
    // The second signal: exit now. _exit runs no destructors and flushes nothing, which is what
    // leaves the files as they are; a checkpoint being written stays a temporary file that the
    // next resume deletes.
    write_stderr(g_stop_only ? "collab: second interrupt: exiting at once\n"
                             : "collab: second interrupt: exiting at once; the checkpoints on disk "
                               "are intact\n");
    ::_exit(128 + sig);
  }
  g_signal = sig;
  if (g_stop_only) {
    write_stderr(sig == SIGTERM ? "collab: SIGTERM received: stopping\n"
                                : "collab: SIGINT received: stopping (interrupt again to exit at "
                                  "once)\n");
    return;
  }
  write_stderr(sig == SIGTERM ? "collab: SIGTERM received: finishing the current step, then "
                                "saving a checkpoint\n"
                              : "collab: SIGINT received: finishing the current step, then saving "
                                "a checkpoint (interrupt again to exit at once)\n");
}

}  // namespace

void install_interrupt_handlers(InterruptMode mode) {
  const bool record_only = mode == InterruptMode::kRecordOnly;
  g_record_only = record_only ? 1 : 0;
  g_stop_only = mode == InterruptMode::kStopThenExit ? 1 : 0;
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGINT);
  sigaddset(&action.sa_mask, SIGTERM);
  action.sa_flags = record_only ? 0 : SA_RESTART;
  for (const int sig : {SIGINT, SIGTERM}) {
    // A signal ignored at startup stays ignored, as for any Unix program: a shell starts
    // background jobs (`collab train ... &`) and nohup its commands with SIGINT ignored so that
    // Ctrl-C at the terminal does not reach them.
    struct sigaction old;
    if (!record_only && sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(sig, &action, nullptr);
  }
}

void install_reload_handler() {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = on_reload_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &action, nullptr);
}

bool take_reload_request() {
  const std::sig_atomic_t now = g_reloads;
  if (now == g_reloads_taken) return false;
  g_reloads_taken = now;
  return true;
}

int interrupt_signal() {
  return g_signal;
}

int interrupt_count() {
  return g_count;
}

const char* signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "a signal";
}

}  // namespace collab
