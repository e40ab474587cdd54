#include "collab/common/config_reader.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "collab/common/error.h"
#include "collab/common/utf8.h"

namespace collab {

NumberRange NumberRange::any() {
  const double inf = std::numeric_limits<double>::infinity();
  return {-inf, inf, false, false, "a number"};
}
NumberRange NumberRange::positive() {
  return {0, std::numeric_limits<double>::infinity(), false, false, "a positive number"};
}
NumberRange NumberRange::non_negative() {
  return {0, std::numeric_limits<double>::infinity(), true, false, "a non-negative number"};
}
NumberRange NumberRange::unit_interval_open_right() {
  return {0, 1, true, false, "a number in [0, 1)"};
}
bool NumberRange::contains(double x) const {
  if (!std::isfinite(x)) return false;
  const bool above = lo_inclusive ? x >= lo : x > lo;
  const bool below = hi_inclusive ? x <= hi : x < hi;
  return above && below;
}

namespace {

// Thrown from the parser callback; caught by parse_json_text, which adds the origin.
struct StrictJsonViolation {
  std::string what;
};

// The dotted path of the keys open at this point of the parse ("train.moms").
std::string key_path(const std::vector<std::string>& open_keys) {
  std::string path;
  for (const auto& k : open_keys) {
    if (!k.empty()) path += (path.empty() ? "" : ".") + k;
  }
  return path;
}

}  // namespace

json parse_json_text(std::string_view text, const std::string& origin) {
  // One entry per open object: its keys so far, and the key whose value is being read.
  std::vector<std::unordered_set<std::string>> seen;
  std::vector<std::string> open_keys;
  const json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
    using E = json::parse_event_t;
    if ((event == E::object_start || event == E::array_start) && depth >= kMaxJsonDepth) {
      throw StrictJsonViolation{"arrays and objects nested more than " +
                                std::to_string(kMaxJsonDepth) + " levels deep"};
    }
    if (event == E::object_start) {
      seen.emplace_back();
      open_keys.emplace_back();
    } else if (event == E::object_end) {
      seen.pop_back();
      open_keys.pop_back();
    } else if (event == E::key) {
      const std::string key = parsed.get<std::string>();
      auto& keys = seen.back();
      open_keys.back() = key;
      if (!keys.insert(key).second) {
        throw StrictJsonViolation{"key " + describe(json(key_path(open_keys))) +
                                  " appears twice (collab would not know which to use)"};
      }
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check);
  } catch (const StrictJsonViolation& v) {
    throw Error(origin + ": not valid JSON: " + v.what);
  } catch (const json::exception& e) {
    // nlohmann's message reads "[json.exception.parse_error.101] parse error at line 3, ...".
    // Not only parse_error: a number too large for a double ("1e400") is out_of_range.406.
    std::string what = e.what();
    if (const auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
    // nlohmann quotes the bytes it last read, escaping those below 0x20 but not DEL.
    std::string printable;
    for (const char c : what) {
      if (c == 0x7f) {
        printable += "<U+007F>";
      } else {
        printable += c;
      }
    }
    throw Error(origin + ": not valid JSON: " + printable);
  }
}

std::string json_text(const json& value, int indent) {
  return value.dump(indent, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

std::string describe(const json& value) {
  // Replacing invalid UTF-8 (which a --set value or a config string may hold) keeps the message;
  // a strict dump would throw nlohmann's type_error instead of reporting the key.
  std::string text = json_text(value);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  // JSON escapes the control bytes below 0x20 but not DEL, which a terminal may act on.
  std::string shown;
  for (const char c : text) shown += c == '\x7f' ? std::string("\\u007f") : std::string(1, c);
  return shown;
}

ConfigReader::ConfigReader(const json& node, std::string path, json* resolved)
    : node_(node), path_(std::move(path)), resolved_(resolved) {
  if (!node_.is_object()) {
    throw Error((path_.empty() ? std::string("config") : path_) + ": expected an object, got " +
                describe(node_));
  }
  if (resolved_ && !resolved_->is_object()) *resolved_ = json::object();
}

bool ConfigReader::has(const std::string& key) const {
  return node_.contains(key);
}

std::string ConfigReader::path_of(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void ConfigReader::fail(const std::string& key, const std::string& message) const {
  // Keys come from the user's file or --set: one with a control byte, DEL or bytes that are not
  // UTF-8 (or a very long one) is shown quoted and escaped, a plain one as it is.
  const std::string path = path_of(key);
  const std::string quoted = quoted_for_message(path, /*max_bytes=*/200);
  throw Error((quoted == "\"" + path + "\"" ? path : quoted) + ": " + message);
}

const json* ConfigReader::lookup(const std::string& key) {
  read_keys_.push_back(key);
  auto it = node_.find(key);
  return it == node_.end() ? nullptr : &*it;
}

void ConfigReader::record(const std::string& key, json value) {
  if (resolved_) (*resolved_)[key] = std::move(value);
}

double ConfigReader::number(const std::string& key, std::optional<double> fallback,
                            NumberRange range) {
  const json* v = lookup(key);
  if (!v) {
    if (!fallback) fail(key, std::string("missing; expected ") + range.word);
    record(key, *fallback);
    return *fallback;
  }
  if (!v->is_number()) fail(key, std::string("expected ") + range.word + ", got " + describe(*v));
  const double x = v->get<double>();
  if (!range.contains(x))
    fail(key, std::string("expected ") + range.word + ", got " + describe(*v));
  record(key, *v);
  return x;
}

int64_t ConfigReader::integer(const std::string& key, std::optional<int64_t> fallback, int64_t min,
                              int64_t max) {
  const json* v = lookup(key);
  auto word = [&] {
    if (min == 1 && max == INT64_MAX) return std::string("a positive integer");
    if (min == 0 && max == INT64_MAX) return std::string("a non-negative integer");
    if (min == INT64_MIN && max == INT64_MAX) return std::string("an integer");
    return "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  };
  if (!v) {
    if (!fallback) fail(key, "missing; expected " + word());
    record(key, *fallback);
    return *fallback;
  }
  bool integral = v->is_number_integer();
  if (v->is_number_float()) {  // 64.0 is an integer written as a float; 64.5 is not.
    const double d = v->get<double>();
    integral = std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9e15;
  }
  if (!integral) fail(key, "expected " + word() + ", got " + describe(*v));
  const int64_t x = v->is_number_float() ? static_cast<int64_t>(v->get<double>())
                    : v->is_number_unsigned()
                        ? static_cast<int64_t>(std::min<uint64_t>(v->get<uint64_t>(), INT64_MAX))
                        : v->get<int64_t>();
  if (x < min || x > max) fail(key, "expected " + word() + ", got " + describe(*v));
  record(key, x);
  return x;
}

bool ConfigReader::boolean(const std::string& key, std::optional<bool> fallback) {
  const json* v = lookup(key);
  if (!v) {
    if (!fallback) fail(key, "missing; expected true or false");
    record(key, *fallback);
    return *fallback;
  }
  if (!v->is_boolean()) fail(key, "expected true or false, got " + describe(*v));
  record(key, *v);
  return v->get<bool>();
}

std::string ConfigReader::string(const std::string& key, std::optional<std::string> fallback) {
  const json* v = lookup(key);
  if (!v) {
    if (!fallback) fail(key, "missing; expected a string");
    record(key, *fallback);
    return *fallback;
  }
  if (!v->is_string()) fail(key, "expected a string, got " + describe(*v));
  record(key, *v);
  return v->get<std::string>();
}

std::string ConfigReader::choice(const std::string& key, const std::vector<std::string>& choices,
                                 std::optional<std::string> fallback) {
  const std::string value = string(key, std::move(fallback));
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + ("\"" + c + "\"");
    fail(key, "expected one of " + list + ", got " + describe(json(value)));
  }
  return value;
}

std::vector<int64_t> ConfigReader::integers(const std::string& key, std::vector<int64_t> fallback,
                                            int64_t min) {
  const json* v = lookup(key);
  if (!v) {
    record(key, fallback);
    return fallback;
  }
  const std::string word = min == 1 ? "an array of positive integers" : "an array of integers";
  if (!v->is_array()) fail(key, "expected " + word + ", got " + describe(*v));
  std::vector<int64_t> out;
  for (const auto& e : *v) {
    if (!e.is_number_integer() || e.get<int64_t>() < min) {
      fail(key, "expected " + word + ", got " + describe(*v));
    }
    out.push_back(e.get<int64_t>());
  }
  record(key, out);
  return out;
}

std::optional<std::pair<double, double>> ConfigReader::optional_range(const std::string& key) {
  const json* v = lookup(key);
  if (!v || v->is_null()) {
    record(key, nullptr);
    return std::nullopt;
  }
  const char* word = "null or [lo, hi] with lo < hi";
  if (!v->is_array() || v->size() != 2 || !(*v)[0].is_number() || !(*v)[1].is_number()) {
    fail(key, std::string("expected ") + word + ", got " + describe(*v));
  }
  const double lo = (*v)[0].get<double>(), hi = (*v)[1].get<double>();
  if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi)) {
    fail(key, std::string("expected ") + word + ", got " + describe(*v));
  }
  record(key, *v);
  return std::make_pair(lo, hi);
}

ConfigReader ConfigReader::object(const std::string& key) {
  static const json empty = json::object();
  const json* v = lookup(key);
  json* sub = nullptr;
  if (resolved_) sub = &(*resolved_)[key];
  return ConfigReader(v ? *v : empty, path_of(key), sub);
}

json ConfigReader::raw(const std::string& key, const json& fallback) {
  const json* v = lookup(key);
  json value = v ? *v : fallback;
  record(key, value);
  return value;
}

void ConfigReader::set_resolved(const std::string& key, json value) {
  record(key, std::move(value));
}

void ConfigReader::finish() const {
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (std::find(read_keys_.begin(), read_keys_.end(), it.key()) != read_keys_.end()) continue;
    std::vector<std::string> known = read_keys_;
    std::sort(known.begin(), known.end());
    known.erase(std::unique(known.begin(), known.end()), known.end());
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    fail(it.key(), "unknown key (known keys here: " + list + ")");
  }
}

}  // namespace collab
