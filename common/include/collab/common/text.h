// Small text helpers: trimming, quoting, durations. UTF-8 is in utf8.h.
#pragma once

#include <string>
#include <string_view>

namespace collab {

std::string_view trim(std::string_view s);
// `text` quoted for a POSIX shell when it needs quoting, for commands shown to the user (never
// run by collab), such as the resume command printed after an interruption.
std::string shell_quoted(const std::string& text);
// `text` as one field of a CSV file collab writes (RFC 4180): in double quotes, with its quotes
// doubled, when it holds a comma, a quote or a newline; as it is otherwise.
std::string csv_field(std::string_view text);
// A duration in progress lines and epoch tables: "MM:SS", rounded to the second (minutes go past
// 59: "75:03").
std::string format_duration(double seconds);

}  // namespace collab
