#include "collab/data/user_features.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "collab/common/config_reader.h"
#include "collab/common/error.h"
#include "collab/common/text.h"
#include "collab/common/utf8.h"

namespace collab {

namespace {

bool known_key(const std::string& key) {
  const auto& keys = user_feature_keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// The column value of a (known) key's raw value: an age becomes its band, a zip code its first
// digit ("other" for a code starting with a letter, as MovieLens' Canadian ones do).
std::string normalised(const std::string& key, const std::string& raw, const std::string& origin) {
  const std::string value(trim(raw));
  if (key == "age") {
    int age = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), age);
    if (!value.empty() && ec == std::errc() && end == value.data() + value.size()) {
      if (age < 1 || age > 150) {
        throw Error(origin + ": age " + quoted_for_message(value) + " is outside 1..150");
      }
      return age_band(age);
    }
    return value;  // a band name, checked against the columns by the encoder
  }
  if (key == "zip") {
    if (value.empty()) throw Error(origin + ": zip is empty");
    return value[0] >= '0' && value[0] <= '9' ? value.substr(0, 1) : "other";
  }
  return value;
}

}  // namespace

const std::vector<std::string>& user_feature_keys() {
  static const std::vector<std::string> keys = {"age", "gender", "occupation", "zip"};
  return keys;
}

UserFeaturePairs user_feature_pairs(const UserRecord& user) {
  // A field a user file leaves unknown (age 0, an empty string) is left out, as a key a new
  // user does not give: its group stays at zero.
  UserFeaturePairs pairs;
  if (user.age > 0) pairs.emplace_back("age", std::to_string(user.age));
  if (!user.gender.empty()) pairs.emplace_back("gender", user.gender);
  if (!user.occupation.empty()) pairs.emplace_back("occupation", user.occupation);
  if (!user.zip.empty()) pairs.emplace_back("zip", user.zip);
  return pairs;
}

std::vector<std::string> user_feature_columns(const std::vector<UserRecord>& users) {
  std::map<std::string, std::set<std::string>> values;
  for (const auto& user : users) {
    for (const auto& [key, raw] : user_feature_pairs(user)) {
      values[key].insert(normalised(key, raw, "user " + user.id));
    }
  }
  std::vector<std::string> columns;
  for (const auto& key : user_feature_keys()) {
    for (const auto& value : values[key]) columns.push_back(key + "=" + value);
  }
  return columns;
}

UserFeaturePairs parse_user_features(const std::string& text, const std::string& origin) {
  UserFeaturePairs pairs;
  const std::string body(trim(text));
  if (!body.empty() && body.front() == '{') {
    const json object = parse_json_text(body, origin);
    for (const auto& [key, value] : object.items()) {
      if (value.is_string()) {
        pairs.emplace_back(key, value.get<std::string>());
      } else if (value.is_number_integer()) {
        pairs.emplace_back(key, std::to_string(value.get<int64_t>()));
      } else {
        throw Error(origin + ": the value of " + quoted_for_message(key) +
                    " must be a string or a whole number");
      }
    }
  } else {
    size_t start = 0;
    while (start <= body.size()) {
      const size_t comma = std::min(body.find(',', start), body.size());
      const std::string entry(trim(std::string_view(body).substr(start, comma - start)));
      start = comma + 1;
      if (entry.empty()) continue;
      const size_t eq = entry.find('=');
      if (eq == std::string::npos || eq == 0) {
        throw Error(origin + ": " + quoted_for_message(entry) + " is not KEY=VALUE");
      }
      pairs.emplace_back(std::string(trim(entry.substr(0, eq))), entry.substr(eq + 1));
    }
  }
  std::set<std::string> seen;
  for (const auto& pair : pairs) {
    if (!seen.insert(pair.first).second) {
      throw Error(origin + ": " + quoted_for_message(pair.first) + " is given twice");
    }
  }
  return pairs;
}

std::vector<float> encode_user_features(const std::vector<std::string>& columns,
                                        const UserFeaturePairs& pairs, const std::string& origin) {
  std::vector<float> x(columns.size(), 0.0F);
  for (const auto& [key, raw] : pairs) {
    if (!known_key(key)) {
      throw Error(origin + ": unknown user feature " + quoted_for_message(key) +
                  " (known: age, gender, occupation, zip)");
    }
    const std::string value = normalised(key, raw, origin);
    const auto at = std::find(columns.begin(), columns.end(), key + "=" + value);
    if (at == columns.end()) {
      std::string known;
      for (const auto& c : columns) {
        if (c.rfind(key + "=", 0) == 0)
          known += (known.empty() ? "" : ", ") + c.substr(key.size() + 1);
      }
      if (known.empty()) {
        throw Error(origin + ": " + key + " " + quoted_for_message(raw) +
                    " cannot be used: the user file gave no training user one");
      }
      throw Error(origin + ": " + key + " " + quoted_for_message(raw) +
                  " is not one the training users had (known: " + known + ")");
    }
    x[static_cast<size_t>(at - columns.begin())] = 1.0F;
  }
  return x;
}

}  // namespace collab
