#include "collab/data/delimited.h"

#include "collab/common/text.h"
#include "collab/common/utf8.h"

namespace collab {

std::string delimiter_name(std::string_view delimiter) {
  if (delimiter == "\t") return "tab";
  if (delimiter == " ") return "space";
  return "'" + std::string(delimiter) + "'";
}

namespace {

// The quoted field opening at `open` (a '"'): the position of its closing quote, or npos.
size_t closing_quote(std::string_view line, size_t open) {
  size_t at = open + 1;
  while ((at = line.find('"', at)) != std::string_view::npos) {
    if (at + 1 < line.size() && line[at + 1] == '"') {
      at += 2;  // an escaped quote
      continue;
    }
    return at;
  }
  return std::string_view::npos;
}

}  // namespace

size_t split_fields(std::string_view line, std::string_view delimiter, std::string_view* fields,
                    size_t max, bool* quoted) {
  // An empty delimiter would find itself everywhere; the config reader refuses one, and here it
  // means "one field".
  const size_t step = delimiter.empty() ? line.size() + 1 : delimiter.size();
  const bool csv = delimiter == ",";
  const bool spaces = delimiter == " ";
  size_t n = 0, start = 0;
  while (start <= line.size()) {
    size_t end = delimiter.empty() ? line.npos : line.find(delimiter, start);
    if (end == std::string_view::npos) end = line.size();
    std::string_view field = line.substr(start, end - start);
    if (csv && !trim(field).empty() && trim(field).front() == '"') {
      const size_t open = line.find('"', start);
      const size_t close = closing_quote(line, open);
      if (close == std::string_view::npos) return 0;
      const size_t after = line.find(delimiter, close);
      // Only padding may follow the closing quote.
      const size_t stop = after == std::string_view::npos ? line.size() : after;
      if (!trim(line.substr(close + 1, stop - close - 1)).empty()) return 0;
      if (n == max) return max + 1;
      if (quoted) quoted[n] = true;
      fields[n++] = line.substr(open + 1, close - open - 1);
      start = stop + step;
      continue;
    }
    if (!(spaces && field.empty())) {
      if (n == max) return max + 1;
      if (quoted) quoted[n] = false;
      fields[n++] = trim(field);
    }
    start = end + step;
  }
  return n;
}

std::string field_text(std::string_view field, bool quoted) {
  if (!quoted) return std::string(field);
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    out += field[i];
    if (field[i] == '"' && i + 1 < field.size() && field[i + 1] == '"') ++i;
  }
  return out;
}

void for_each_record_line(std::string_view text, bool header,
                          const std::function<void(size_t, std::string_view)>& record) {
  size_t line_no = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && starts_with_bom(line)) line.remove_prefix(3);
    if ((header && line_no == 1) || trim(line).empty()) continue;
    record(line_no, line);
  }
}

}  // namespace collab
