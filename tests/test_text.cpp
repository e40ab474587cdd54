// Text helpers: UTF-8 validation (strict, as JSON encoders check it), latin-1 conversion, trim.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "collab/common/text.h"
#include "collab/common/utf8.h"

namespace test_text {

namespace {

bool json_encodes(const std::string& s) {
  try {
    nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

}  // namespace

TEST(Utf8, AcceptsWellFormedText) {
  for (const std::string s : {"", "plain", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                              "\xed\x9f\xbf", "\xee\x80\x80", "\xf4\x8f\xbf\xbf", "\xc2\x80"}) {
    EXPECT_TRUE(collab::is_valid_utf8(s)) << s;
    EXPECT_TRUE(json_encodes(s)) << s;
    EXPECT_EQ(collab::to_utf8(s), s);
  }
}

// Reviewing what fuzz_item_catalog checks (a title must survive nlohmann's strict encoder, as
// recommend --json needs) showed the validator accepted overlong forms, UTF-16 surrogates and
// code points above U+10FFFF: a u.item title holding them stayed as it was, and JSON output of it
// threw nlohmann's type_error 316. They now count as not UTF-8, so the title is read as latin-1.
TEST(Utf8, RejectsOverlongsSurrogatesAndBeyondUnicode) {
  for (const std::string s : {"\xe0\x80\x80", "\xe0\x9f\xbf", "\xc0\xaf", "\xc1\xbf",
                              "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xed\xa0\x80",
                              "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff"}) {
    EXPECT_FALSE(collab::is_valid_utf8(s)) << s;
    EXPECT_FALSE(json_encodes(s)) << s;
    EXPECT_TRUE(json_encodes(collab::to_utf8(s))) << s;  // read as latin-1, it encodes
  }
}

TEST(Utf8, RejectsTruncatedAndBrokenSequences) {
  for (const std::string s :
       {"\xc3", "a\xe2\x82", "\xf0\x9f\x98", "\xc3(", "\xe2\x28\xa1", "\x80", "\xbf"}) {
    EXPECT_FALSE(collab::is_valid_utf8(s)) << s;
  }
}

TEST(Latin1, ConvertsEachByteToItsCodePoint) {
  EXPECT_EQ(collab::latin1_to_utf8("caf\xe9"), "caf\xc3\xa9");
  EXPECT_EQ(collab::latin1_to_utf8("\xff\x80"
                                   "a"),
            "\xc3\xbf\xc2\x80"
            "a");
  EXPECT_EQ(collab::to_utf8("Na\xefve"), "Na\xc3\xafve");
}

TEST(Trim, StripsSpacesTabsAndLineEnds) {
  EXPECT_EQ(collab::trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(collab::trim(" \t\r\n"), "");
}

}  // namespace test_text
