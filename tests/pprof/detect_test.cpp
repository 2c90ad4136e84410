// detect_format on the real dumps of every format and on near misses.

#include "leakwatch/pprof/parser.hpp"
#include "testdata.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>

using namespace leakwatch::pprof;
using leakwatch::pprof::test::read_testdata;

TEST_CASE("detect_format recognises real dumps", "[pprof]") {
  CHECK(detect_format(read_testdata("patterns.debug0.pb.gz")) == Format::debug0);
  CHECK(detect_format(read_testdata("patterns.debug1.txt")) == Format::debug1);
  CHECK(detect_format(read_testdata("patterns.debug1.crlf.txt")) == Format::debug1);
  CHECK(detect_format(read_testdata("patterns.debug2.txt")) == Format::debug2);
  CHECK(detect_format(read_testdata("goroutineleak-empty.debug1.txt")) == Format::debug1);
}

TEST_CASE("detect_format says nullopt for anything else", "[pprof]") {
  CHECK(detect_format(read_testdata("empty.txt")) == std::nullopt);
  CHECK(detect_format(read_testdata("garbage.txt")) == std::nullopt);
  CHECK(detect_format("\x1f") == std::nullopt);        // half a gzip magic
  CHECK(detect_format("\x8b\x1f") == std::nullopt);    // reversed
  CHECK(detect_format("goroutine ") == std::nullopt);  // no id
  CHECK(detect_format("goroutine x [running]:") == std::nullopt);
  CHECK(detect_format("goroutine profile") == std::nullopt);  // no colon: not the header
  CHECK(detect_format("threadcreate profile: total 1\n") == std::nullopt);
  CHECK(detect_format(" goroutine profile: total 1\n") == std::nullopt);
}

TEST_CASE("detect_format needs only the first bytes", "[pprof]") {
  CHECK(detect_format("\x1f\x8b") == Format::debug0);
  CHECK(detect_format("goroutine profile:") == Format::debug1);
  CHECK(detect_format("goroutineleak profile:") == Format::debug1);
  CHECK(detect_format("goroutine 1") == Format::debug2);
}
