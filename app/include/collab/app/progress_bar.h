// The progress bar collab's long commands draw on a terminal (compare's epochs, recommend
// --all-users' users): one line rewritten in place, "[####....] done/total detail  ETA mm:ss".
// Off a terminal it draws nothing, so that logs and redirected output hold no control codes.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace collab {

class ProgressBar {
 public:
  // A bar for `total` units on `stream` (stdout or stderr), its clock started now.
  ProgressBar(std::FILE* stream, int64_t total);

  bool on_terminal() const { return tty_; }
  double seconds() const;
  // Seconds left at the pace so far, `done` units finished.
  double eta(int64_t done) const;
  // Redraws the bar at `done` (on a terminal only).
  void draw(int64_t done, const std::string& detail);
  // Erases the bar's line (on a terminal only), so that the next output starts a clean line.
  void clear();

 private:
  std::FILE* stream_;
  bool tty_;
  int64_t total_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace collab
