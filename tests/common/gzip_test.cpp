#include "leakwatch/common/gzip.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace leakwatch::common;

TEST_CASE("gzip round-trips and detects its magic", "[common]") {
  std::string text;
  for (int i = 0; i < 10'000; ++i) text += "goroutine profile: total " + std::to_string(i) + "\n";
  const std::string packed = gzip(text);
  REQUIRE(is_gzip(packed));
  CHECK_FALSE(is_gzip(text));
  CHECK(packed.size() < text.size() / 4);
  const auto r = gunzip(packed, 1 << 20);
  REQUIRE(r.status == InflateStatus::ok);
  CHECK(r.out == text);
}

TEST_CASE("gunzip reads concatenated members", "[common]") {
  const auto r = gunzip(gzip("first,") + gzip("second"), 1024);
  REQUIRE(r.status == InflateStatus::ok);
  CHECK(r.out == "first,second");
}

TEST_CASE("gunzip stops at the limit instead of inflating a bomb", "[common]") {
  const std::string zeros(8 << 20, '\0');
  const std::string bomb = gzip(zeros);
  REQUIRE(bomb.size() < 64 * 1024);
  const auto r = gunzip(bomb, 1 << 20);
  CHECK(r.status == InflateStatus::too_large);
  CHECK(r.out.size() <= (1u << 20));
  // Exactly at the limit is still fine.
  const auto exact = gunzip(bomb, zeros.size());
  CHECK(exact.status == InflateStatus::ok);
  CHECK(exact.out.size() == zeros.size());
}

TEST_CASE("gunzip reports truncated and corrupt input", "[common]") {
  const std::string packed = gzip(std::string(100'000, 'x') + "tail");
  CHECK(gunzip(packed.substr(0, packed.size() / 2), 1 << 20).status == InflateStatus::truncated);
  CHECK(gunzip(packed.substr(0, packed.size() - 4), 1 << 20).status == InflateStatus::truncated);
  CHECK(gunzip("", 1024).status == InflateStatus::truncated);
  std::string broken = packed;
  broken[20] = static_cast<char>(broken[20] ^ 0xff);
  const auto r = gunzip(broken, 1 << 20);
  CHECK(r.status != InflateStatus::ok);
  CHECK_FALSE(r.error.empty());
  CHECK(gunzip("not gzip at all", 1024).status == InflateStatus::corrupt);
}
