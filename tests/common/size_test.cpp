#include "leakwatch/common/size.hpp"

#include <catch2/catch.hpp>

using leakwatch::common::parse_size;

TEST_CASE("sizes parse with binary and decimal units", "[common]") {
  CHECK(parse_size("64MiB") == (64ull << 20));
  CHECK(parse_size("512KiB") == 512ull * 1024);
  CHECK(parse_size("1GB") == 1'000'000'000ull);
  CHECK(parse_size("1024B") == 1024ull);
  CHECK(parse_size("4096") == 4096ull);
  CHECK(parse_size("0") == 0ull);
}

TEST_CASE("invalid sizes are refused", "[common]") {
  for (const char* bad : {"", "MiB", "64 MiB", "64mib", "1.5GiB", "-1", "99999999999999999999", "20000000000TiB"}) {
    INFO(bad);
    CHECK_FALSE(parse_size(bad).has_value());
  }
}
