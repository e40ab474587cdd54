// Small text helpers: trimming, durations. UTF-8 is in utf8.h.
#pragma once

#include <string>
#include <string_view>

namespace collab {

std::string_view trim(std::string_view s);

// A duration in progress lines and epoch tables: "MM:SS", rounded to the second (minutes go past
// 59: "75:03").
std::string format_duration(double seconds);

}  // namespace collab
