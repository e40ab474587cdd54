// The one delimited-text reader (data/delimited.h) and what the ratings reader and the config
// build on it: multi-character delimiters (MovieLens 1M/10M's "::"), RFC 4180 quoting, a
// byte-order mark, and the encodings of data files (latin-1 converted, UTF-8 checked).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "collab/common/config_reader.h"
#include "collab/common/error.h"
#include "collab/common/utf8.h"
#include "collab/data/data_config.h"
#include "collab/data/delimited.h"
#include "collab/data/ratings.h"
#include "test_support.h"

namespace test_delimited {

namespace {

using namespace collab::test;  // the shared helpers: test_support.h

std::vector<std::string> split(std::string_view line, std::string_view delimiter, size_t max = 8) {
  std::vector<std::string_view> fields(max);
  bool quoted[8] = {};
  const size_t n = collab::split_fields(line, delimiter, fields.data(), max, quoted);
  std::vector<std::string> out;
  for (size_t k = 0; k < std::min(n, max); ++k)
    out.push_back(collab::field_text(fields[k], quoted[k]));
  if (n == 0) out.push_back("<malformed>");
  return out;
}

collab::RatingsFormat format(const std::string& delimiter,
                             collab::TextEncoding encoding = collab::TextEncoding::kAuto) {
  collab::RatingsFormat f;
  f.delimiter = delimiter;
  f.encoding = encoding;
  return f;
}

collab::DataConfig data_config(const collab::json& data) {
  collab::ConfigReader reader(data, "data", nullptr);
  return collab::read_data_config(reader, "/tmp");
}

}  // namespace

TEST(Delimited, MultiCharacterDelimiters) {
  EXPECT_EQ(split("1::1193::5::978300760", "::"),
            (std::vector<std::string>{"1", "1193", "5", "978300760"}));
  // A single ':' inside a field (a title) stays in it.
  EXPECT_EQ(split("2::Star Wars: Episode IV (1977)::Action|Sci-Fi", "::"),
            (std::vector<std::string>{"2", "Star Wars: Episode IV (1977)", "Action|Sci-Fi"}));
  EXPECT_EQ(split("a::b::", "::"), (std::vector<std::string>{"a", "b", ""}));
  EXPECT_EQ(split("a  b   c", " "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(collab::delimiter_name("::"), "'::'");
  EXPECT_EQ(collab::delimiter_name("\t"), "tab");
}

TEST(Delimited, Rfc4180QuotingWithDoubledQuotes) {
  EXPECT_EQ(split("1,\"American President, The (1995)\",Comedy|Drama", ","),
            (std::vector<std::string>{"1", "American President, The (1995)", "Comedy|Drama"}));
  EXPECT_EQ(split("2,\"Say \"\"Hi\"\", ok (2001)\",Drama", ","),
            (std::vector<std::string>{"2", "Say \"Hi\", ok (2001)", "Drama"}));
  EXPECT_EQ(split("\"7,8\",2", ","), (std::vector<std::string>{"7,8", "2"}));
  EXPECT_EQ(split("1,\"open, never closed", ","), (std::vector<std::string>{"<malformed>"}));
  EXPECT_EQ(split("1,\"closed\" trailing,2", ","), (std::vector<std::string>{"<malformed>"}));
  // Quotes mean nothing to other delimiters (MovieLens' tab and "::" files have none).
  EXPECT_EQ(split("\"a\tb", "\t"), (std::vector<std::string>{"\"a", "b"}));
}

TEST(Delimited, RecordLinesSkipByteOrderMarkHeaderAndBlankLines) {
  std::vector<std::pair<size_t, std::string>> seen;
  collab::for_each_record_line(
      "\xEF\xBB\xBFuserId,movieId\r\n\r\n1,2\r\n3,4", true,
      [&](size_t n, std::string_view line) { seen.emplace_back(n, std::string(line)); });
  EXPECT_EQ(seen, (std::vector<std::pair<size_t, std::string>>{{3, "1,2"}, {4, "3,4"}}));
  seen.clear();
  collab::for_each_record_line(
      "\xEF\xBB\xBF"
      "7,8\n",
      false, [&](size_t n, std::string_view line) { seen.emplace_back(n, std::string(line)); });
  EXPECT_EQ(seen, (std::vector<std::pair<size_t, std::string>>{{1, "7,8"}}));
}

TEST(Delimited, Encodings) {
  std::string out;
  ASSERT_TRUE(collab::decode_to_utf8("Caf\xe9", collab::TextEncoding::kLatin1, out));
  EXPECT_EQ(out, "Caf\xc3\xa9");
  ASSERT_TRUE(collab::decode_to_utf8("Caf\xe9", collab::TextEncoding::kAuto, out));
  EXPECT_EQ(out, "Caf\xc3\xa9");
  // Declared latin-1, even bytes that happen to form UTF-8 are latin-1 characters.
  ASSERT_TRUE(collab::decode_to_utf8("\xc3\xa9", collab::TextEncoding::kLatin1, out));
  EXPECT_EQ(out, "\xc3\x83\xc2\xa9");
  ASSERT_TRUE(collab::decode_to_utf8("\xc3\xa9", collab::TextEncoding::kUtf8, out));
  EXPECT_EQ(out, "\xc3\xa9");
  EXPECT_FALSE(collab::decode_to_utf8("Caf\xe9", collab::TextEncoding::kUtf8, out));
}

TEST(Delimited, RatingsWithDoubleColonsAndLatin1Ids) {
  collab::Vocabulary users, items;
  const collab::Ratings r =
      collab::parse_ratings("1::1193::5::978300760\r\n1::661::3::978302109\r\n2::1193::4::1\n",
                            "ratings.dat", format("::"), users, items);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(items.raw(1), "661");
  EXPECT_EQ(r.timestamps[1], 978302109);
  EXPECT_EQ(r.ratings.to_vector(), (std::vector<float>{5, 3, 4}));

  collab::Vocabulary u2, i2;
  collab::parse_ratings("Ren\xe9::x::4\n", "r.dat", format("::", collab::TextEncoding::kLatin1), u2,
                        i2);
  EXPECT_EQ(u2.raw(0), "Ren\xc3\xa9");
  collab::Vocabulary u3, i3;
  expect_one_line_error_thrown(
      [&] {
        collab::parse_ratings("a::x::4\nRen\xe9::x::4\n", "r.dat",
                              format("::", collab::TextEncoding::kUtf8), u3, i3);
      },
      {"r.dat:2", "user id \"Ren\\xe9\"", "not valid UTF-8", "latin-1"});
  collab::Vocabulary u4, i4;
  expect_one_line_error_thrown(
      [&] { collab::parse_ratings("1::2::3\n1:2:3\n", "r.dat", format("::"), u4, i4); },
      {"r.dat:2", "separated by '::'", "got 1"});
}

TEST(Delimited, ConfigDelimiterAndEncoding) {
  const collab::DataConfig c =
      data_config({{"ratings", "ratings.dat"}, {"delimiter", "::"}, {"encoding", "latin-1"}});
  EXPECT_EQ(c.format.delimiter, "::");
  EXPECT_EQ(c.format.encoding, collab::TextEncoding::kLatin1);
  EXPECT_EQ(data_config({{"ratings", "r"}}).format.encoding, collab::TextEncoding::kAuto);
  expect_one_line_error_thrown(
      [&] {
        data_config({{"ratings", "r"}, {"delimiter", ""}});
      },
      {"data.delimiter", "1 to 8 characters"});
  expect_one_line_error_thrown(
      [&] {
        data_config({{"ratings", "r"}, {"delimiter", "a\nb"}});
      },
      {"data.delimiter", "\"a\\nb\""});
  expect_one_line_error_thrown(
      [&] {
        data_config({{"ratings", "r"}, {"encoding", "cp1252"}});
      },
      {"data.encoding", "latin-1"});
}

}  // namespace test_delimited
