#include "collab/data/user_catalog.h"

#include <charconv>
#include <unordered_map>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/utf8.h"
#include "collab/data/delimited.h"

namespace collab {

std::vector<UserRecord> read_movielens_users(const std::string& path) {
  return parse_movielens_users(read_file(path), path);
}

std::vector<UserRecord> parse_movielens_users(std::string_view text, const std::string& origin) {
  std::vector<UserRecord> users;
  std::unordered_map<std::string, size_t> line_of_user;
  for_each_record_line(text, false, [&](size_t line_no, std::string_view line) {
    const std::string where = origin + ":" + std::to_string(line_no) + ": ";
    std::string_view fields[5];
    const size_t n = split_fields(line, "|", fields, 5);
    if (n != 5) {
      throw Error(where + "expected 5 '|'-separated fields (user id|age|gender|occupation|zip " +
                  "code), got " + (n > 5 ? "more" : std::to_string(n)));
    }
    UserRecord user;
    user.id = std::string(fields[0]);
    if (user.id.empty()) throw Error(where + "field 1 (user id) is empty");
    int age = 0;
    const auto [end, ec] =
        std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), age);
    if (fields[1].empty() || ec != std::errc() || end != fields[1].data() + fields[1].size() ||
        age < 1 || age > 150) {
      throw Error(where + "field 2 (age) is " + quoted_for_message(fields[1]) +
                  ", expected a whole number of years from 1 to 150");
    }
    user.age = age;
    user.gender = std::string(fields[2]);
    user.occupation = std::string(fields[3]);
    user.zip = std::string(fields[4]);
    if (const auto [at, first] = line_of_user.emplace(user.id, line_no); !first) {
      throw Error(where + "field 1 (user id): user " + quoted_for_message(user.id) +
                  " is listed again (first at line " + std::to_string(at->second) + ")");
    }
    users.push_back(std::move(user));
  });
  if (users.empty()) throw Error(origin + ": no users in the file");
  return users;
}

std::string age_band(int age) {
  if (age < 18) return "<18";
  if (age <= 24) return "18-24";
  if (age <= 34) return "25-34";
  if (age <= 44) return "35-44";
  if (age <= 49) return "45-49";
  if (age <= 55) return "50-55";
  return "56+";
}

}  // namespace collab
