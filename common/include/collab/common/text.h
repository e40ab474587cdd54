// Small text helpers shared by the readers: UTF-8 validation and latin-1 conversion, trimming.
#pragma once

#include <string>
#include <string_view>

namespace collab {

bool is_valid_utf8(std::string_view s);
// Bytes as latin-1 (ISO-8859-1) re-encoded as UTF-8.
std::string latin1_to_utf8(std::string_view s);
// `s` unchanged when it is valid UTF-8, else read as latin-1 (MovieLens' u.item is latin-1).
std::string to_utf8(std::string_view s);
std::string_view trim(std::string_view s);
// `text` quoted for a POSIX shell when it needs quoting, for commands shown to the user (never
// run by collab), such as the resume command printed after an interruption.
std::string shell_quoted(const std::string& text);
// A duration as fastai prints it, "MM:SS" (rounded to the second; minutes beyond 99 widen).
std::string format_time(double seconds);

}  // namespace collab
