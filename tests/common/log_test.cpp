#include "leakwatch/common/log.hpp"

#include <catch2/catch.hpp>

using namespace leakwatch::common;

TEST_CASE("logfmt quotes only values that need it", "[common]") {
  setup_logging(spdlog::level::info, LogFormat::logfmt);
  CHECK(render_fields("poll failed", {{"job", "api"}, {"target", "127.0.0.1:6060"}}) ==
        R"(msg="poll failed" job=api target=127.0.0.1:6060)");
  CHECK(render_fields("x", {{"err", "read: connection reset"}, {"empty", ""}}) ==
        R"(msg="x" err="read: connection reset" empty="")");
  CHECK(render_fields("x", {{"v", "a\"b\\c\nd"}}) == R"(msg="x" v="a\"b\\c\nd")");
}

TEST_CASE("JSON fields are escaped", "[common]") {
  setup_logging(spdlog::level::info, LogFormat::json);
  CHECK(render_fields("poll failed", {{"job", "api"}, {"err", "bad \"x\"\t\x01"}}) ==
        R"("msg":"poll failed","job":"api","err":"bad \"x\"\t\u0001")");
  // A function name from a target with a byte that is not UTF-8: the line stays valid UTF-8 (and JSON).
  CHECK(render_fields("leak alert", {{"function", "main.leak\xffy"}}) ==
        "\"msg\":\"leak alert\",\"function\":\"main.leak\xef\xbf\xbdy\"");
  setup_logging(spdlog::level::info, LogFormat::logfmt);
  CHECK(render_fields("x", {{"function", "main.leak\xffy"}}) == "msg=\"x\" function=\"main.leak\xef\xbf\xbdy\"");
}

TEST_CASE("log levels and formats parse from flag values", "[common]") {
  CHECK(parse_log_level("debug") == spdlog::level::debug);
  CHECK(parse_log_level("warn") == spdlog::level::warn);
  CHECK(parse_log_level("error") == spdlog::level::err);
  CHECK_FALSE(parse_log_level("verbose").has_value());
  CHECK(parse_log_format("json") == LogFormat::json);
  CHECK_FALSE(parse_log_format("text").has_value());
}
