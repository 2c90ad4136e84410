#include "leakwatch/common/utf8.hpp"

#include <catch2/catch.hpp>

#include <string>

using leakwatch::common::is_valid_utf8;
using leakwatch::common::valid_utf8;

TEST_CASE("is_valid_utf8", "[common]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain"));
  CHECK(is_valid_utf8("\xc3\xa9"));          // é
  CHECK(is_valid_utf8("\xe2\x82\xac"));      // €
  CHECK(is_valid_utf8("\xf0\x9f\x98\x80"));  // U+1F600
  CHECK_FALSE(is_valid_utf8("\xff"));
  CHECK_FALSE(is_valid_utf8("\xc3"));              // truncated
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  CHECK_FALSE(is_valid_utf8(std::string("ok\0\xff", 4)));
}

TEST_CASE("valid_utf8 replaces each bad byte with U+FFFD and keeps the rest", "[common]") {
  const std::string r = "\xef\xbf\xbd";
  CHECK(valid_utf8("") == "");
  CHECK(valid_utf8("main.(*T).f") == "main.(*T).f");
  CHECK(valid_utf8("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(valid_utf8("main.leak\xffy") == "main.leak" + r + "y");
  CHECK(valid_utf8("\xc3") == r);                         // truncated at the end
  CHECK(valid_utf8("\xc0\xaf/") == r + r + "/");          // overlong: both bytes
  CHECK(valid_utf8("\xed\xa0\x80") == r + r + r);         // surrogate
  CHECK(valid_utf8("a\xf0\x9f\x98") == "a" + r + r + r);  // a 4-byte sequence cut short
  CHECK(is_valid_utf8(valid_utf8("\x80\xbf\xfe\xff\xf5\xf8\xfc")));
}
