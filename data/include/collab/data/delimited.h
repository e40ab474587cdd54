// Delimited text, one record a line (ratings files, item catalogues, `collab predict`'s
// user,item pairs): the one splitter and line walker their readers share, so every reader treats
// CRLF line ends, blank lines, a header line, a UTF-8 byte-order mark, padding around fields,
// space-separated columns, multi-character delimiters and CSV quoting the same way.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace collab {

// "tab", "space" or the delimiter in quotes ("'::'"), for error messages.
std::string delimiter_name(std::string_view delimiter);

// Splits `line` at `delimiter` (one or more characters: "\t", ",", "::" for MovieLens 1M/10M)
// into at most `max` trimmed fields; a space delimiter also treats runs of spaces as one.
// Returns the number of fields, or max + 1 when there are more (the first `max` are filled).
// With "," a field in double quotes (RFC 4180) may hold commas: "7,8" is one field, 7,8 without
// its quotes; a quote inside is doubled ("") and stays doubled in the view (field_text()
// unescapes it), and `quoted`, when given, says which fields were quoted. A quote left open, or
// text after a closing quote, makes the line malformed, and 0 is returned.
size_t split_fields(std::string_view line, std::string_view delimiter, std::string_view* fields,
                    size_t max, bool* quoted = nullptr);

// A field split_fields returned as its text: a quoted field's doubled quotes made single.
std::string field_text(std::string_view field, bool quoted);

// Calls `record(line_no, line)` (1-based) for each line of `text` holding a record: a CRLF's
// '\r' removed, a byte-order mark before the first line removed, blank lines and, when
// `header`, the first line skipped.
void for_each_record_line(std::string_view text, bool header,
                          const std::function<void(size_t, std::string_view)>& record);

}  // namespace collab
