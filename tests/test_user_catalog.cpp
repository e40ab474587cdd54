// User files in every layout collab reads (data/user_catalog.h): MovieLens 1M's users.dat with
// its coded ages and occupations, a generic CSV with a header, and the dispatch by file name;
// every error names the file, the line and the field. (u.user's own tests: test_audit.cpp.)
#include <gtest/gtest.h>

#include <string>

#include "collab/data/user_catalog.h"
#include "test_support.h"

namespace test_user_catalog {

namespace {

using namespace collab::test;  // the shared helpers: test_support.h

// users.dat's first lines as MovieLens 1M ships them.
const char* const kUsersDat =
    "1::F::1::10::48067\n"
    "2::M::56::16::70072\n"
    "3::M::25::15::55117\n"
    "6::F::50::9::55117\n";

}  // namespace

TEST(UserCatalog, ReadsMovieLens1mUsersWithTheirCodesNamed) {
  const auto users = collab::parse_movielens_1m_users(kUsersDat, "users.dat");
  ASSERT_EQ(users.size(), 4u);
  EXPECT_EQ(users[0].id, "1");
  EXPECT_EQ(users[0].gender, "F");
  EXPECT_EQ(collab::age_band(users[0].age), "<18");  // code 1: "Under 18"
  EXPECT_EQ(users[0].occupation, "K-12 student");    // code 10
  EXPECT_EQ(users[0].zip, "48067");
  EXPECT_EQ(collab::age_band(users[1].age), "56+");
  EXPECT_EQ(users[1].occupation, "self-employed");
  EXPECT_EQ(collab::age_band(users[2].age), "25-34");
  EXPECT_EQ(users[2].occupation, "scientist");
  EXPECT_EQ(collab::age_band(users[3].age), "50-55");
  EXPECT_EQ(users[3].occupation, "homemaker");
}

TEST(UserCatalog, MovieLens1mErrorsNameFileLineAndField) {
  expect_one_line_error_thrown(
      [] { collab::parse_movielens_1m_users("1::F::1::10::48067\n2::M::56::16\n", "users.dat"); },
      {"users.dat:2:", "expected 5 '::'-separated fields", "got 4"});
  expect_one_line_error_thrown(
      [] { collab::parse_movielens_1m_users("1::F::30::10::48067\n", "users.dat"); },
      {"users.dat:1:", "field 3 (Age)", "\"30\"", "1, 18, 25"});
  expect_one_line_error_thrown(
      [] { collab::parse_movielens_1m_users("1::F::18::21::48067\n", "users.dat"); },
      {"users.dat:1:", "field 4 (Occupation)", "\"21\"", "0 to 20"});
  expect_one_line_error_thrown(
      [] { collab::parse_movielens_1m_users("1::F::18::2::1\n1::M::25::3::2\n", "users.dat"); },
      {"users.dat:2:", "listed again", "line 1"});
  expect_one_line_error_thrown([] { collab::parse_movielens_1m_users("", "users.dat"); },
                               {"users.dat", "no users"});
}

TEST(UserCatalog, ReadsAGenericCsvByItsHeader) {
  const auto users = collab::parse_user_csv(
      "\xEF\xBB\xBFuser_id,zip_code,age,occupation,signup\r\n"
      "u1,02139,31,\"writer, freelance\",2020\n"
      "u2,,,,2021\n",
      "people.csv");
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].id, "u1");  // the BOM is not part of the header's first name
  EXPECT_EQ(users[0].age, 31);
  EXPECT_EQ(users[0].occupation, "writer, freelance");  // a quoted comma stays in the field
  EXPECT_EQ(users[0].zip, "02139");
  EXPECT_EQ(users[0].gender, "");  // no gender column: unknown
  EXPECT_EQ(users[1].age, 0);      // empty: unknown
  EXPECT_EQ(collab::age_band(users[1].age), "unknown");
}

TEST(UserCatalog, GenericCsvErrorsNameFileLineAndColumn) {
  expect_one_line_error_thrown([] { collab::parse_user_csv("name,age\nx,3\n", "people.csv"); },
                               {"people.csv:1:", "no user id column", "userId"});
  expect_one_line_error_thrown(
      [] { collab::parse_user_csv("userId,age\n1,old\n", "people.csv"); },
      {"people.csv:2:", "column age", "\"old\""});
  expect_one_line_error_thrown([] { collab::parse_user_csv("userId,age\n1,30,x\n", "people.csv"); },
                               {"people.csv:2:", "expected 2", "got 3"});
  expect_one_line_error_thrown(
      [] { collab::parse_user_csv("userId,age\n\"1,30\n", "people.csv"); },
      {"people.csv:2:", "quoted field is not closed"});
  expect_one_line_error_thrown([] { collab::parse_user_csv("userId\n7\n7\n", "people.csv"); },
                               {"people.csv:3:", "column userId", "listed again"});
  expect_one_line_error_thrown([] { collab::parse_user_csv("userId\n", "people.csv"); },
                               {"people.csv", "no users"});
}

TEST(UserCatalog, FileLayoutIsToldByItsName) {
  const std::string dir = temp_dir("collab-user-files");
  write_text(dir + "/users.dat", kUsersDat);
  write_text(dir + "/u.user", "1|24|M|technician|85711\n");
  write_text(dir + "/people.csv", "userId,gender\n9,F\n");
  EXPECT_EQ(collab::read_user_file(dir + "/users.dat").size(), 4u);
  EXPECT_EQ(collab::read_user_file(dir + "/u.user")[0].occupation, "technician");
  const auto csv = collab::read_user_file(dir + "/people.csv");
  ASSERT_EQ(csv.size(), 1u);
  EXPECT_EQ(csv[0].gender, "F");
  expect_one_line_error_thrown([&] { collab::read_user_file(dir + "/missing.dat"); },
                               {"missing.dat"});
}

}  // namespace test_user_catalog
