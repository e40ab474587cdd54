#include "collab/common/text.h"

#include <cstdio>

namespace collab {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string format_duration(double seconds) {
  const int s = static_cast<int>(seconds + 0.5);
  char text[24];
  std::snprintf(text, sizeof text, "%02d:%02d", s / 60, s % 60);
  return text;
}

}  // namespace collab
