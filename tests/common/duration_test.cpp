#include "leakwatch/common/duration.hpp"

#include <catch2/catch.hpp>

using leakwatch::common::Duration;
using leakwatch::common::format_duration;
using leakwatch::common::parse_duration;

TEST_CASE("durations parse like Prometheus durations", "[common]") {
  CHECK(parse_duration("15s") == Duration{15'000});
  CHECK(parse_duration("250ms") == Duration{250});
  CHECK(parse_duration("2m") == Duration{120'000});
  CHECK(parse_duration("1h30m") == Duration{5'400'000});
  CHECK(parse_duration("1d") == Duration{86'400'000});
  CHECK(parse_duration("1w") == Duration{604'800'000});
  CHECK(parse_duration("1m0s500ms") == Duration{60'500});
  CHECK(parse_duration("0") == Duration{0});
  CHECK(parse_duration("0s") == Duration{0});
}

TEST_CASE("invalid durations are refused", "[common]") {
  for (const char* bad :
       {"", "5", "s", "5x", "1.5s", "-5s", "5s1m", "5s5s", " 5s", "5s ", "1ms5s", "99999999999999999999s"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
  }
}

TEST_CASE("durations format in their shortest form", "[common]") {
  CHECK(format_duration(Duration{0}) == "0s");
  CHECK(format_duration(Duration{90'000}) == "1m30s");
  CHECK(format_duration(Duration{1'500}) == "1s500ms");
  CHECK(format_duration(Duration{3'600'000}) == "1h");
  CHECK(parse_duration(format_duration(Duration{123'456'789})) == Duration{123'456'789});
}
