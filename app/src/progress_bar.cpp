// ProgressBar (progress_bar.h).
#include "collab/app/progress_bar.h"

#include <unistd.h>

#include <algorithm>

#include "collab/common/text.h"

namespace collab {

ProgressBar::ProgressBar(std::FILE* stream, int64_t total)
    : stream_(stream),
      tty_(isatty(fileno(stream)) != 0),
      total_(total),
      start_(std::chrono::steady_clock::now()) {}

double ProgressBar::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double ProgressBar::eta(int64_t done) const {
  return done > 0 ? seconds() / static_cast<double>(done) * static_cast<double>(total_ - done) : 0;
}

void ProgressBar::draw(int64_t done, const std::string& detail) {
  if (!tty_) return;
  const int width = 24;
  const auto filled = static_cast<int>(static_cast<double>(width) * static_cast<double>(done) /
                                       static_cast<double>(std::max<int64_t>(1, total_)));
  std::fprintf(stream_, "\r\033[K[%s%s] %lld/%lld %s  ETA %s", std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), static_cast<long long>(done),
               static_cast<long long>(total_), detail.c_str(), format_duration(eta(done)).c_str());
  std::fflush(stream_);
}

void ProgressBar::clear() {
  if (!tty_) return;
  std::fprintf(stream_, "\r\033[K");
  std::fflush(stream_);
}

}  // namespace collab
