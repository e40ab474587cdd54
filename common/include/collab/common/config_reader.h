// Strict, path-aware reading of one JSON object of a config. Every getter checks the type and
// range of its key and throws collab::Error naming the JSON path
// (`train.lr_max: expected a positive number, got "fast"`); `finish()` rejects keys nobody read.
// As it reads, the reader records every value it returns, defaults included, into a "resolved"
// object, so the run directory can hold the config exactly as it was used.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace collab {

using json = nlohmann::json;

// The allowed range of a number; the describing word goes into error messages.
struct NumberRange {
  double lo;
  double hi;
  bool lo_inclusive;
  bool hi_inclusive;
  const char* word;  // "a positive number", "a number in [0, 1)", ...

  static NumberRange any();
  static NumberRange positive();
  static NumberRange non_negative();
  static NumberRange unit_interval_open_right();  // [0, 1)
  bool contains(double x) const;
};

class ConfigReader {
 public:
  // `node` must be a JSON object; `path` is its dotted JSON path ("" for the root).
  // `resolved` receives each value as read (may be nullptr).
  ConfigReader(const json& node, std::string path, json* resolved);

  bool has(const std::string& key) const;
  std::string path_of(const std::string& key) const;

  double number(const std::string& key, std::optional<double> fallback = std::nullopt,
                NumberRange range = NumberRange::any());
  int64_t integer(const std::string& key, std::optional<int64_t> fallback = std::nullopt,
                  int64_t min = INT64_MIN, int64_t max = INT64_MAX);
  bool boolean(const std::string& key, std::optional<bool> fallback = std::nullopt);
  std::string string(const std::string& key, std::optional<std::string> fallback = std::nullopt);
  // One of `choices`; the error lists them.
  std::string choice(const std::string& key, const std::vector<std::string>& choices,
                     std::optional<std::string> fallback = std::nullopt);
  std::vector<int64_t> integers(const std::string& key, std::vector<int64_t> fallback,
                                int64_t min = INT64_MIN);
  // `null` or a two-number array [lo, hi] with lo < hi.
  std::optional<std::pair<double, double>> optional_range(const std::string& key);
  // A nested object (an absent key reads as an empty object).
  ConfigReader object(const std::string& key);
  // The raw JSON under `key`, recorded as is (for values a later layer interprets).
  json raw(const std::string& key, const json& fallback);

  // Replaces what the resolved config records for `key` (an absolute path for a relative one).
  void set_resolved(const std::string& key, json value);

  // Throws for every key present in the node that no getter asked for.
  void finish() const;

  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  const json* lookup(const std::string& key);
  void record(const std::string& key, json value);

  const json& node_;
  std::string path_;
  json* resolved_;
  std::vector<std::string> read_keys_;
};

// Parses `text` as one JSON document, strictly: nothing but whitespace after it, no key twice in
// one object (nlohmann would keep the last silently), and at most kMaxJsonDepth levels of nested
// arrays and objects (checked while parsing, before anything recurses over the value: printing
// a 70,000-level value for an error message would overflow the stack). Throws collab::Error
// "<origin>: not valid JSON: ..." naming the line and column, the repeated key's path, or the
// depth.
json parse_json_text(std::string_view text, const std::string& origin);
constexpr int kMaxJsonDepth = 100;

// `value` as JSON text for output (--json results, files): bytes that are not UTF-8, which raw
// ids and titles from data files may hold, become U+FFFD instead of making nlohmann throw.
std::string json_text(const json& value, int indent = -1);

// Short rendering of a JSON value for error messages ("fast" with its quotes, 3, [1,2], ...).
std::string describe(const json& value);

}  // namespace collab
