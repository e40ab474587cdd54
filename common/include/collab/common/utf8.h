// UTF-8: strict validation (as JSON encoders check it), latin-1 conversion for data files that
// are not UTF-8, and counting and cutting text by code point for aligned tables and labels.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace collab {

bool is_valid_utf8(std::string_view s);
// Bytes as latin-1 (ISO-8859-1) re-encoded as UTF-8.
std::string latin1_to_utf8(std::string_view s);
// `s` unchanged when it is valid UTF-8, else read as latin-1 (MovieLens' u.item is latin-1).
std::string to_utf8(std::string_view s);

// How a data file's text is encoded (data.encoding): MovieLens 100k's u.item and 1M/10M's .dat
// files are latin-1, the CSV releases UTF-8. kAuto keeps text that is valid UTF-8 and reads the
// rest as latin-1 (what collab did before files could say), so a mislabelled file still loads.
enum class TextEncoding { kAuto, kUtf8, kLatin1 };
// "auto", "utf-8", "latin-1": the config's spellings.
const char* text_encoding_name(TextEncoding encoding);
// `s` as UTF-8 under `encoding`, into `out`; false (a file declared UTF-8 that is not) only for
// kUtf8. Pure ASCII, the common case, is copied without conversion under every encoding.
bool decode_to_utf8(std::string_view s, TextEncoding encoding, std::string& out);
// A UTF-8 byte-order mark (Windows editors write one), which is not part of the first field.
bool starts_with_bom(std::string_view s);

// The columns `s` takes in a terminal or the glyphs in a label: its code points (every byte but
// continuation bytes), so "±" counts one. Wide (CJK) and combining characters are not told apart.
size_t utf8_width(std::string_view s);
// `s` when it has at most `max_points` code points, else its first `max_points - 1` and "…":
// never cuts a multi-byte character in half.
std::string utf8_shorten(const std::string& s, size_t max_points);

// A value from a user's file or command line as an error message shows it: in double quotes,
// with control bytes, DEL, quotes, backslashes and bytes that are not UTF-8 escaped (\n, \x1b,
// \x00, \xff), so the message stays one printable line and is not cut at a NUL; longer than
// `max_bytes`, it is cut there and ends with "... (N bytes)".
std::string quoted_for_message(std::string_view value, size_t max_bytes = 80);

}  // namespace collab
