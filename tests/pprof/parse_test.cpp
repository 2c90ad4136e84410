// parse(): dispatch on the configured format, and the error when the body is clearly another one.

#include "leakwatch/pprof/parser.hpp"
#include "testdata.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>

using namespace leakwatch::pprof;
using leakwatch::pprof::test::read_testdata;
using leakwatch::pprof::test::require_same;

namespace {

std::string error_of(const leakwatch::common::Result<Profile>& r) { return leakwatch::pprof::test::error_message(r); }

}  // namespace

TEST_CASE("parse debug1 is parse_debug1", "[pprof]") {
  const std::string body = read_testdata("patterns.debug1.txt");
  const auto via_parse = parse(body, Format::debug1);
  const auto direct = parse_debug1(body);
  REQUIRE(via_parse.has_value());
  REQUIRE(direct.has_value());
  require_same(*via_parse, *direct);
  CHECK(via_parse->groups.size() == 23);

  // Limits are passed through.
  const auto limited = parse(body, Format::debug1, Limits{.max_groups = 2});
  REQUIRE(limited.has_value());
  CHECK(limited->groups.size() == 2);
}

TEST_CASE("parse names a format mismatch", "[pprof]") {
  const std::string debug0 = read_testdata("patterns.debug0.pb.gz");
  const std::string debug1 = read_testdata("patterns.debug1.txt");
  const std::string debug2 = read_testdata("patterns.debug2.txt");
  CHECK(error_of(parse(debug2, Format::debug1)) == "configured format debug1 but the body looks like debug2");
  CHECK(error_of(parse(debug0, Format::debug1)) == "configured format debug1 but the body looks like debug0");
  CHECK(error_of(parse(debug1, Format::debug2)) == "configured format debug2 but the body looks like debug1");
  CHECK(error_of(parse(debug1, Format::debug0)) == "configured format debug0 but the body looks like debug1");
}

TEST_CASE("parse: every format goes to its parser and reads the same process state", "[pprof]") {
  // The three dumps were taken from one process in one state (tests/testdata/pprof/README.md).
  for (const auto& [file, format] :
       {std::pair{"patterns.debug0.pb.gz", Format::debug0}, std::pair{"patterns.debug1.txt", Format::debug1},
        std::pair{"patterns.debug2.txt", Format::debug2}}) {
    INFO(file);
    const auto p = parse(read_testdata(file), format);
    REQUIRE(p.has_value());
    CHECK(p->total == 63);
    CHECK_FALSE(p->truncated());
  }
}

TEST_CASE("parse: unrecognised bodies get the configured parser's error", "[pprof]") {
  CHECK(error_of(parse(read_testdata("garbage.txt"), Format::debug1)).starts_with("line 1: expected "));
  CHECK(error_of(parse(read_testdata("empty.txt"), Format::debug1)) ==
        "line 1: empty body, expected 'goroutine profile: total <N>'");
}
