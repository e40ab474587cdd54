// Small text helpers: trimming, durations. UTF-8 is in utf8.h.
#pragma once

#include <string>
#include <string_view>

namespace collab {

std::string_view trim(std::string_view s);
// `text` quoted for a POSIX shell when it needs quoting, for commands shown to the user (never
// run by collab), such as the resume command printed after an interruption.
std::string shell_quoted(const std::string& text);
// A duration in progress lines and epoch tables: "MM:SS", rounded to the second (minutes go past
// 59: "75:03").
std::string format_duration(double seconds);

}  // namespace collab
