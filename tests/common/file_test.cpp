#include "leakwatch/common/file.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace leakwatch::common;

TEST_CASE("read_file: contents, missing file, directory, limit", "[common]") {
  const std::string path = "/tmp/leakwatch_file_test_" + std::to_string(::getpid());
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(1000, 'x');
  }
  const auto ok = read_file(path, 1000);
  REQUIRE(ok.has_value());
  CHECK(ok->size() == 1000);

  const auto big = read_file(path, 999);
  REQUIRE_FALSE(big.has_value());
  CHECK(big.error().code == Errc::too_large);
  CHECK(big.error().message == "larger than 999 bytes");
  std::remove(path.c_str());

  const auto missing = read_file(path, 1000);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == Errc::not_found);
  CHECK(missing.error().message == "No such file or directory");

  const auto dir = read_file("/tmp", 1000);
  REQUIRE_FALSE(dir.has_value());
  CHECK(dir.error().code == Errc::io);

  // An endless file costs at most the limit.
  const auto endless = read_file("/dev/zero", 1 << 16);
  REQUIRE_FALSE(endless.has_value());
  CHECK(endless.error().code == Errc::too_large);
}
