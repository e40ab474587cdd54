#include "collab/train/step_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace collab {

namespace {

// How long a thread polls before it sleeps: longer than the gap between two fused steps (a few
// microseconds of forward/backward), far shorter than a scheduler time slice.
constexpr auto kSpinFor = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls `ready` for up to kSpinFor; true when it became true.
template <typename Ready>
bool spin_until(const Ready& ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinFor;
  for (;;) {
    for (int k = 0; k < 64; ++k) {
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() > deadline) return ready();
  }
}

}  // namespace

StepPool::StepPool(int64_t threads) : ranges_(new Range[threads > 1 ? threads : 1]) {
#if defined(__x86_64__) || defined(__i386__)
  // The floating-point mode (denormals flushed or not, rounding) of the creating thread, so
  // that a chunk gives the same bits on whichever thread runs it.
  const unsigned int mxcsr = _mm_getcsr();
  for (int64_t t = 1; t < threads; ++t) {
    workers_.emplace_back([this, t, mxcsr] {
      _mm_setcsr(mxcsr);
      worker_loop(t);
    });
  }
#else
  for (int64_t t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
#endif
}

StepPool::~StepPool() {
  if (workers_.empty()) return;
  stop_.store(true);
  generation_.fetch_add(1);
  { std::lock_guard<std::mutex> lock(mutex_); }
  work_ready_.notify_all();
  for (auto& w : workers_) w.join();
}

void StepPool::work_through(int64_t self) {
  const int64_t n = threads();
  for (int64_t k = 0; k < n; ++k) {
    Range& range = ranges_[(self + k) % n];
    for (int64_t c = range.next.fetch_add(1); c < range.end; c = range.next.fetch_add(1)) {
      invoke_(task_, c);
    }
  }
}

// Every handshake below is Dekker-style: each side writes its own flag, then reads the other's,
// both sequentially consistent, so one of them always sees the other. A waker takes the mutex
// before notifying, so a sleeper between its check and its wait cannot miss the notification.
void StepPool::run_erased(void* task, Invoke invoke, int64_t chunks) {
  if (workers_.empty()) {
    for (int64_t c = 0; c < chunks; ++c) invoke(task, c);
    return;
  }
  // No worker is inside a pass here (the last one ended with active_ 0), and a late one finds
  // closed_ true until the new pass is set up: the plain fields below are safe to write.
  task_ = task;
  invoke_ = invoke;
  const int64_t n = threads();
  for (int64_t t = 0; t < n; ++t) {
    ranges_[t].next.store(chunks * t / n, std::memory_order_relaxed);
    ranges_[t].end = chunks * (t + 1) / n;
  }
  closed_.store(false);
  generation_.fetch_add(1);
  if (sleeping_workers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mutex_); }
    work_ready_.notify_all();
  }
  work_through(0);
  // Every chunk is taken; close the pass to workers that have not joined it yet.
  closed_.store(true);
  const auto finished = [this] { return active_.load() == 0; };
  if (!spin_until(finished)) {
    std::unique_lock<std::mutex> lock(mutex_);
    caller_sleeping_.store(true);
    work_done_.wait(lock, finished);
    caller_sleeping_.store(false);
  }
}

void StepPool::worker_loop(int64_t index) {
  uint64_t seen = 0;
  for (;;) {
    const auto new_pass = [this, &seen] { return generation_.load() != seen; };
    if (!spin_until(new_pass)) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleeping_workers_.fetch_add(1);
      work_ready_.wait(lock, new_pass);
      sleeping_workers_.fetch_sub(1);
    }
    seen = generation_.load();
    if (stop_.load()) return;  // written before the last generation bump
    active_.fetch_add(1);
    if (!closed_.load()) work_through(index);
    if (active_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
      { std::lock_guard<std::mutex> lock(mutex_); }
      work_done_.notify_one();
    }
  }
}

}  // namespace collab
