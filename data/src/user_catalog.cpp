#include "collab/data/user_catalog.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <unordered_map>
#include <utility>

#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "collab/common/utf8.h"
#include "collab/data/delimited.h"

namespace collab {

namespace {

// Collects records, refusing empty ids and a user listed twice.
class UserTable {
 public:
  explicit UserTable(std::string origin) : origin_(std::move(origin)) {}
  std::string where(size_t line_no) const {
    return origin_ + ":" + std::to_string(line_no) + ": ";
  }
  void add(UserRecord user, size_t line_no, const std::string& id_field) {
    if (user.id.empty()) throw Error(where(line_no) + id_field + " is empty");
    if (const auto [at, first] = line_of_user_.emplace(user.id, line_no); !first) {
      throw Error(where(line_no) + id_field + ": user " + quoted_for_message(user.id) +
                  " is listed again (first at line " + std::to_string(at->second) + ")");
    }
    users_.push_back(std::move(user));
  }
  std::vector<UserRecord> finish() {
    if (users_.empty()) throw Error(origin_ + ": no users in the file");
    return std::move(users_);
  }

 private:
  std::string origin_;
  std::vector<UserRecord> users_;
  std::unordered_map<std::string, size_t> line_of_user_;
};

// A whole number in [lo, hi], or nullopt.
std::optional<int> whole_number(std::string_view text, int lo, int hi) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < lo ||
      value > hi) {
    return std::nullopt;
  }
  return value;
}

// A MovieLens user line's 5 fields split at `delimiter`; an error naming `layout` otherwise.
std::array<std::string_view, 5> five_fields(std::string_view line, std::string_view delimiter,
                                            const std::string& where, const char* layout) {
  std::array<std::string_view, 5> fields;
  const size_t n = split_fields(line, delimiter, fields.data(), 5);
  if (n != 5) {
    throw Error(where + "expected 5 '" + std::string(delimiter) + "'-separated fields (" +
                layout + "), got " + (n > 5 ? "more" : std::to_string(n)));
  }
  return fields;
}

// MovieLens 1M's README: the occupation each code stands for.
const char* const kMovieLens1mOccupations[] = {
    "other",           "academic/educator",    "artist",         "clerical/admin",
    "college/grad student", "customer service", "doctor/health care", "executive/managerial",
    "farmer",          "homemaker",            "K-12 student",   "lawyer",
    "programmer",      "retired",              "sales/marketing", "scientist",
    "self-employed",   "technician/engineer",  "tradesman/craftsman", "unemployed",
    "writer"};

// The first of `names` in `header`, or npos.
size_t column_named(const std::vector<std::string>& header,
                    std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const auto at = std::find(header.begin(), header.end(), name);
    if (at != header.end()) return static_cast<size_t>(at - header.begin());
  }
  return std::string::npos;
}

}  // namespace

std::vector<UserRecord> read_movielens_users(const std::string& path) {
  return parse_movielens_users(read_file(path), path);
}

std::vector<UserRecord> read_user_file(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (name == "users.dat") return parse_movielens_1m_users(read_file(path), path);
  if (name.size() >= 4 && name.compare(name.size() - 4, 4, ".csv") == 0) {
    return parse_user_csv(read_file(path), path);
  }
  return read_movielens_users(path);
}

std::vector<UserRecord> parse_movielens_users(std::string_view text, const std::string& origin) {
  UserTable table(origin);
  for_each_record_line(text, false, [&](size_t line_no, std::string_view line) {
    const auto fields = five_fields(line, "|", table.where(line_no),
                                    "user id|age|gender|occupation|zip code");
    UserRecord user;
    user.id = std::string(fields[0]);
    const auto age = whole_number(fields[1], 1, 150);
    if (!age) {
      throw Error(table.where(line_no) + "field 2 (age) is " + quoted_for_message(fields[1]) +
                  ", expected a whole number of years from 1 to 150");
    }
    user.age = *age;
    user.gender = std::string(fields[2]);
    user.occupation = std::string(fields[3]);
    user.zip = std::string(fields[4]);
    table.add(std::move(user), line_no, "field 1 (user id)");
  });
  return table.finish();
}

std::vector<UserRecord> parse_movielens_1m_users(std::string_view text,
                                                 const std::string& origin) {
  UserTable table(origin);
  for_each_record_line(text, false, [&](size_t line_no, std::string_view line) {
    const auto fields = five_fields(line, "::", table.where(line_no),
                                    "UserID::Gender::Age::Occupation::Zip-code");
    UserRecord user;
    user.id = std::string(fields[0]);
    user.gender = std::string(fields[1]);
    static const int kAgeCodes[] = {1, 18, 25, 35, 45, 50, 56};  // each its band's lowest age
    const auto age = whole_number(fields[2], 1, 56);
    if (!age || std::find(std::begin(kAgeCodes), std::end(kAgeCodes), *age) == std::end(kAgeCodes)) {
      throw Error(table.where(line_no) + "field 3 (Age) is " + quoted_for_message(fields[2]) +
                  ", expected one of MovieLens 1M's age codes 1, 18, 25, 35, 45, 50, 56");
    }
    user.age = *age;
    const auto occupation = whole_number(fields[3], 0, 20);
    if (!occupation) {
      throw Error(table.where(line_no) + "field 4 (Occupation) is " +
                  quoted_for_message(fields[3]) + ", expected a code from 0 to 20");
    }
    user.occupation = kMovieLens1mOccupations[*occupation];
    user.zip = std::string(fields[4]);
    table.add(std::move(user), line_no, "field 1 (UserID)");
  });
  return table.finish();
}

std::vector<UserRecord> parse_user_csv(std::string_view text, const std::string& origin) {
  constexpr size_t kMaxColumns = 64;
  UserTable table(origin);
  std::vector<std::string> header;
  size_t id = 0, age = 0, gender = 0, occupation = 0, zip = 0;
  for_each_record_line(text, false, [&](size_t line_no, std::string_view line) {
    std::string_view f[kMaxColumns];
    bool quoted[kMaxColumns] = {};
    const size_t n = split_fields(line, ",", f, kMaxColumns, quoted);
    if (n == 0 || n > kMaxColumns) {
      throw Error(table.where(line_no) + (n == 0 ? "a quoted field is not closed, or text "
                                                   "follows its closing quote"
                                                 : "more than 64 columns"));
    }
    if (header.empty()) {
      for (size_t k = 0; k < n; ++k) header.push_back(field_text(f[k], quoted[k]));
      id = column_named(header, {"userId", "user_id", "user", "id"});
      if (id == std::string::npos) {
        throw Error(table.where(line_no) +
                    "no user id column in the header (userId, user_id, user or id)");
      }
      age = column_named(header, {"age"});
      gender = column_named(header, {"gender"});
      occupation = column_named(header, {"occupation"});
      zip = column_named(header, {"zip", "zip_code", "zipcode"});
      return;
    }
    if (n != header.size()) {
      throw Error(table.where(line_no) + "expected " + std::to_string(header.size()) +
                  " comma-separated fields (as the header has), got " + std::to_string(n));
    }
    auto text_of = [&](size_t c) {
      return c == std::string::npos ? std::string() : field_text(f[c], quoted[c]);
    };
    UserRecord user;
    user.id = text_of(id);
    if (const std::string years = text_of(age); !years.empty()) {
      const auto value = whole_number(years, 1, 150);
      if (!value) {
        throw Error(table.where(line_no) + "column age is " + quoted_for_message(years) +
                    ", expected a whole number of years from 1 to 150 (or empty: unknown)");
      }
      user.age = *value;
    }
    user.gender = text_of(gender);
    user.occupation = text_of(occupation);
    user.zip = text_of(zip);
    table.add(std::move(user), line_no, "column " + header[id]);
  });
  return table.finish();
}

std::string age_band(int age) {
  if (age <= 0) return "unknown";
  if (age < 18) return "<18";
  if (age <= 24) return "18-24";
  if (age <= 34) return "25-34";
  if (age <= 44) return "35-44";
  if (age <= 49) return "45-49";
  if (age <= 55) return "50-55";
  return "56+";
}

}  // namespace collab
