#include "collab/common/utf8.h"

#include <algorithm>

namespace collab {

namespace {

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

// Well-formed UTF-8 as RFC 3629 defines it (Unicode's table 3-7): besides the lead and
// continuation bytes' shapes, no overlong forms (E0 80..9F, F0 80..8F), no UTF-16 surrogates
// (ED A0..BF) and nothing above U+10FFFF (F4 90..). JSON encoders (nlohmann's included) reject
// those, so a title this accepted as UTF-8 must encode.
bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c < 0x80) {
      extra = 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string to_utf8(std::string_view s) {
  return is_valid_utf8(s) ? std::string(s) : latin1_to_utf8(s);
}

const char* text_encoding_name(TextEncoding encoding) {
  switch (encoding) {
    case TextEncoding::kUtf8:
      return "utf-8";
    case TextEncoding::kLatin1:
      return "latin-1";
    case TextEncoding::kAuto:
      break;
  }
  return "auto";
}

bool decode_to_utf8(std::string_view s, TextEncoding encoding, std::string& out) {
  const bool ascii =
      std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii || (encoding != TextEncoding::kLatin1 && is_valid_utf8(s))) {
    out.assign(s);
    return true;
  }
  if (encoding == TextEncoding::kUtf8) return false;
  out = latin1_to_utf8(s);
  return true;
}

bool starts_with_bom(std::string_view s) {
  return s.substr(0, 3) == "\xEF\xBB\xBF";
}

size_t utf8_width(std::string_view s) {
  size_t points = 0;
  for (const char c : s) points += is_continuation(c) ? 0 : 1;
  return points;
}

std::string utf8_shorten(const std::string& s, size_t max_points) {
  if (max_points == 0) return "";
  size_t points = 0, cut = s.size();
  for (size_t i = 0; i < s.size(); ++i) {
    if (is_continuation(s[i])) continue;
    if (points == max_points - 1) cut = i;
    ++points;
  }
  return points <= max_points ? s : s.substr(0, cut) + "\u2026";
}

namespace {

// The length of the well-formed UTF-8 sequence of two or more bytes at `s`[i], or 0.
size_t multibyte_sequence_at(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (n == 0 || s.size() - i < n || !is_valid_utf8(s.substr(i, n))) return 0;
  return n;
}

}  // namespace

std::string quoted_for_message(std::string_view value, size_t max_bytes) {
  static const char* const kHex = "0123456789abcdef";
  std::string out = "\"";
  size_t i = 0;
  while (i < value.size() && i < max_bytes) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x80) {
      if (const size_t n = multibyte_sequence_at(value, i)) {
        out.append(value.substr(i, n));
        i += n;
        continue;
      }
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
  if (i < value.size()) out += "... (" + std::to_string(value.size()) + " bytes)";
  return out;
}

}  // namespace collab
