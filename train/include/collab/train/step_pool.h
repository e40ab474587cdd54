// A pool of persistent threads for the fused steps' Adam pass, which takes tens of microseconds
// per step. Handing it to OpenMP (at::parallel_for) cost about what the second thread saved,
// and OpenMP's barrier made runs crawl when other processes shared the cores: a step waited for
// a descheduled thread's whole time slice.
//
// Here a pass is cut into chunks, and each thread owns a fixed range of them, so on an idle
// machine every thread updates the same part of the tables at every step and keeps it in its
// core's cache. A thread that finishes its own range takes what is left of the others', and a
// worker that has not started by the time every chunk is taken sits the pass out: a contended
// step costs at most the chunk a descheduled worker is in, not its time slice. Workers poll
// briefly for the next pass (long enough to catch back-to-back steps), then sleep.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace collab {

class StepPool {
 public:
  // `threads` counts the caller: a pool of 1 runs everything on the caller and starts no thread.
  // Workers take the calling thread's floating-point mode (flushing denormals or not).
  explicit StepPool(int64_t threads);
  ~StepPool();
  StepPool(const StepPool&) = delete;
  StepPool& operator=(const StepPool&) = delete;

  int64_t threads() const { return static_cast<int64_t>(workers_.size()) + 1; }

  // Calls task(c) once for every chunk c = 0 .. chunks-1, on the caller and the workers, and
  // returns when all calls have returned. Thread t owns chunks [chunks*t/threads,
  // chunks*(t+1)/threads), the caller being thread 0. `task` must not throw, and the calls must
  // be independent of one another. One pass at a time, from one thread.
  template <typename Task>
  void run(Task& task, int64_t chunks) {
    run_erased(
        &task, [](void* f, int64_t c) { (*static_cast<Task*>(f))(c); }, chunks);
  }

 private:
  using Invoke = void (*)(void*, int64_t);
  // One thread's range of chunks; `next` is taken by the owner and by thieves alike.
  struct alignas(64) Range {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };

  void run_erased(void* task, Invoke invoke, int64_t chunks);
  // Runs the chunks left in every range, starting with thread `self`'s own.
  void work_through(int64_t self);
  void worker_loop(int64_t index);

  std::vector<std::thread> workers_;
  std::unique_ptr<Range[]> ranges_;
  void* task_ = nullptr;
  Invoke invoke_ = nullptr;
  std::atomic<bool> stop_{false};
  // Bumped once per pass (and at shutdown); a worker looks for work when it sees a new value.
  std::atomic<uint64_t> generation_{0};
  // A worker joins a pass by counting itself in `active_` and then finding `closed_` false; the
  // caller closes the pass when all chunks are done and waits only for workers that joined.
  std::atomic<bool> closed_{true};
  std::atomic<int64_t> active_{0};
  // Who sleeps, so that the other side takes the mutex and notifies only then.
  std::atomic<int64_t> sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
};

}  // namespace collab
