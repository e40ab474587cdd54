// User side information: MovieLens 100k's u.user ('|'-separated: user id | age | gender |
// occupation | zip code), read with the one delimited-text reader (delimited.h), and the groups
// `collab audit` reports accuracy by (gender, MovieLens 1M's age bands, occupation).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace collab {

struct UserRecord {
  std::string id;  // raw user id, as the ratings files spell it
  int age = 0;
  std::string gender;
  std::string occupation;
  std::string zip;
};

// Reads a u.user file. Throws collab::Error naming the file, the line and the field for a line
// without exactly 5 fields, an empty id, an age that is not a whole number in 1..150, a user listed
// twice, or a file with no users.
std::vector<UserRecord> read_movielens_users(const std::string& path);
// The same from the text in memory; `origin` names it in error messages.
std::vector<UserRecord> parse_movielens_users(std::string_view text, const std::string& origin);

// MovieLens 1M's age bands: "<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+".
std::string age_band(int age);

}  // namespace collab
