// User side information: MovieLens 100k's u.user ('|'-separated: user id | age | gender |
// occupation | zip code), MovieLens 1M's users.dat and a generic CSV, read with the one
// delimited-text reader (delimited.h), and the groups `collab audit` reports accuracy by (gender,
// MovieLens 1M's age bands, occupation).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace collab {

struct UserRecord {
  std::string id;  // raw user id, as the ratings files spell it
  int age = 0;  // years (users.dat: its band's code); 0 unknown
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

// Any user file by its layout, told by its name: "users.dat" is MovieLens 1M's
// (UserID::Gender::Age::Occupation::Zip-code, age as the band's code 1, 18, 25, 35, 45, 50 or 56,
// occupation as a code 0-20, named here as the release's README names it), a name ending in
// ".csv" a generic CSV with a header naming its columns (read_user_csv), anything else u.user's.
std::vector<UserRecord> read_user_file(const std::string& path);

// MovieLens 1M's users.dat from the text in memory. Throws collab::Error naming `origin`, the
// line and the field for a line without 5 "::"-separated fields, an age code or occupation code
// the release does not define, a user listed twice, or a file with no users.
std::vector<UserRecord> parse_movielens_1m_users(std::string_view text, const std::string& origin);

// A CSV (RFC 4180 quoting) whose header names the columns: the id column is the first of
// "userId", "user_id", "user", "id"; "age", "gender", "occupation" and "zip" (or "zip_code",
// "zipcode") are optional, their empty fields unknown (age 0). Other columns are ignored. Throws
// collab::Error naming `origin`, the line and the column at fault.
std::vector<UserRecord> parse_user_csv(std::string_view text, const std::string& origin);

// MovieLens 1M's age bands: "<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"; "unknown"
// for age 0 (a user file without it).
std::string age_band(int age);

}  // namespace collab
