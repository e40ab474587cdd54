// Delimited text, one record a line (ratings files, `collab predict`'s user,item pairs): the one
// splitter and line walker their readers share, so every reader treats CRLF line ends, blank
// lines, a header line, padding around fields and space-separated columns the same way.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace collab {

// "tab", "space" or the character in quotes, for error messages.
std::string delimiter_name(char delimiter);

// Splits `line` at `delimiter` into at most `max` trimmed fields; a space delimiter also treats
// runs of spaces as one. Returns the number of fields, or max + 1 when there are more (the
// first `max` are filled). With ',' a field in double quotes (RFC 4180) may hold commas: "7,8"
// is one field, 7,8 without its quotes ("" inside stays doubled: a view cannot unescape it); a
// quote left open makes the line malformed, and 0 is returned.
size_t split_fields(std::string_view line, char delimiter, std::string_view* fields, size_t max);

// Calls `record(line_no, line)` (1-based) for each line of `text` holding a record: a CRLF's
// '\r' removed, blank lines and, when `header`, the first line skipped.
void for_each_record_line(std::string_view text, bool header,
                          const std::function<void(size_t, std::string_view)>& record);

}  // namespace collab
