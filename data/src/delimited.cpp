#include "collab/data/delimited.h"

#include "collab/common/text.h"

namespace collab {

std::string delimiter_name(char delimiter) {
  if (delimiter == '\t') return "tab";
  if (delimiter == ' ') return "space";
  return std::string("'") + delimiter + "'";
}

size_t split_fields(std::string_view line, char delimiter, std::string_view* fields, size_t max) {
  size_t n = 0, start = 0;
  while (start <= line.size()) {
    size_t end = line.find(delimiter, start);
    if (end == std::string_view::npos) end = line.size();
    std::string_view field = line.substr(start, end - start);
    if (!(delimiter == ' ' && field.empty())) {
      if (n == max) return max + 1;
      fields[n++] = trim(field);
    }
    start = end + 1;
  }
  return n;
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
    if ((header && line_no == 1) || trim(line).empty()) continue;
    record(line_no, line);
  }
}

}  // namespace collab
