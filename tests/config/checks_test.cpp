#include "checks.hpp"
#include "leakwatch/config/config.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace leakwatch::config;

namespace {

HostPort target_ok(std::string_view t) {
  const auto parsed = parse_target(t);
  INFO(t << ": " << (parsed ? "" : parsed.error().message));
  REQUIRE(parsed.has_value());
  return *parsed;
}

std::string target_error(std::string_view t) {
  const auto parsed = parse_target(t);
  INFO(t);
  REQUIRE(parsed.has_error());
  return parsed.error().message;
}

// The problem a check reports; empty when the value passes.
std::string problem(const leakwatch::common::Result<void>& r) { return r ? "" : r.error().message; }

}  // namespace

TEST_CASE("parse_target accepts host:port, IPv4, bracketed IPv6 and zones", "[config]") {
  CHECK(target_ok("localhost:6060") == HostPort{"localhost", 6060});
  CHECK(target_ok("10.0.0.1:1") == HostPort{"10.0.0.1", 1});
  CHECK(target_ok("[::1]:65535") == HostPort{"::1", 65535});
  CHECK(target_ok("[fe80::1%eth0]:6060") == HostPort{"fe80::1%eth0", 6060});
  CHECK(target_ok("[::ffff:10.0.0.1]:80") == HostPort{"::ffff:10.0.0.1", 80});
  CHECK(target_ok("my_svc.ns.svc:8080") == HostPort{"my_svc.ns.svc", 8080});
}

TEST_CASE("parse_target normalises the host's case so duplicates are found", "[config]") {
  CHECK(target_ok("LocalHost:6060") == target_ok("localhost:6060"));
  CHECK(target_ok("[FE80::1]:6060") == target_ok("[fe80::1]:6060"));
}

TEST_CASE("parse_target rejects what is not host:port", "[config]") {
  CHECK(target_error("") == "target must not be empty");
  CHECK(target_error("https://a:1") ==
        "target \"https://a:1\" must not include a scheme; write host:port and set the job's scheme");
  CHECK(target_error("a:1/x") ==
        "target \"a:1/x\" must not include a path; write host:port and set the job's profile_path");
  CHECK(target_error("a :1") == "target \"a :1\" must not contain spaces or control characters");
  CHECK(target_error("a") == "target \"a\" has no port; write host:port, e.g. localhost:6060");
  CHECK(target_error(":6060") == "target \":6060\" has no host; write host:port");
  CHECK(target_error("a:") == "target \"a:\" has an invalid port \"\"; ports are 1..65535");
  CHECK(target_error("a:-1") == "target \"a:-1\" has an invalid port \"-1\"; ports are 1..65535");
  CHECK(target_error("a:100000") == "target \"a:100000\" has an invalid port \"100000\"; ports are 1..65535");
  CHECK(target_error("user@a:1") ==
        "target \"user@a:1\" has an invalid host; use a hostname, an IPv4 address or [IPv6]");
  CHECK(target_error("a?b:1") == "target \"a?b:1\" has an invalid host; use a hostname, an IPv4 address or [IPv6]");
  CHECK(target_error("::1:6060") == "target \"::1:6060\": an IPv6 address must be in brackets, e.g. [::1]:6060");
  CHECK(target_error("[::1:6060") == "target \"[::1:6060\" has an unclosed '[' around its IPv6 address");
  CHECK(target_error("[::1]") == "target \"[::1]\" has no port; write host:port, e.g. [::1]:6060");
  CHECK(target_error("[::1]6060") == "target \"[::1]6060\" has no port; write host:port, e.g. [::1]:6060");
  CHECK(target_error("[]:1") == "target \"[]:1\" has an invalid IPv6 address in brackets");
  CHECK(target_error("[abc]:1") == "target \"[abc]:1\" has an invalid IPv6 address in brackets");
  CHECK(target_error("[::1%]:1") == "target \"[::1%]:1\" has an invalid IPv6 address in brackets");
}

TEST_CASE("check_label_name enforces Prometheus syntax and leakwatch's reserved names", "[config]") {
  CHECK(problem(check_label_name("team")).empty());
  CHECK(problem(check_label_name("_private")).empty());
  CHECK(problem(check_label_name("Team_2")).empty());
  CHECK(problem(check_label_name("jobs")).empty());  // only exact reserved names are rejected
  CHECK(problem(check_label_name("")) == "label name \"\" is invalid; names must match [a-zA-Z_][a-zA-Z0-9_]*");
  CHECK_FALSE(problem(check_label_name("2team")).empty());
  CHECK_FALSE(problem(check_label_name("team.name")).empty());
  CHECK_FALSE(problem(check_label_name("é")).empty());
  CHECK(problem(check_label_name("__meta")) ==
        "label name \"__meta\" is reserved; names starting with \"__\" are internal");
  for (const char* name : {"service", "target", "job", "instance", "result", "function", "location", "version",
                           "revision", "le", "quantile", "evidence", "profile", "format"}) {
    INFO(name);
    CHECK(problem(check_label_name(name)) ==
          "label name \"" + std::string(name) + "\" is reserved; leakwatch or Prometheus sets it");
  }
}

TEST_CASE("check_job_name", "[config]") {
  CHECK(problem(check_job_name("payments")).empty());
  CHECK(problem(check_job_name("worker pool (eu) – ünïcode")).empty());
  CHECK(problem(check_job_name("")) == "job_name must not be empty");
  CHECK(problem(check_job_name("a\nb")) == "job_name \"a\\x0ab\" must not contain control characters");
  CHECK(problem(check_job_name("a\x7f")) == "job_name \"a\\x7f\" must not contain control characters");
  CHECK(problem(check_job_name("a\xff")) == "job_name \"a\\xff\" is not valid UTF-8");
}

TEST_CASE("check_profile_path", "[config]") {
  CHECK(problem(check_profile_path("/debug/pprof/goroutine")).empty());
  CHECK(problem(check_profile_path("/")).empty());
  CHECK(problem(check_profile_path("")) == "profile_path \"\" must start with '/'");
  CHECK(problem(check_profile_path("/x?debug=1")) ==
        "profile_path \"/x?debug=1\" must not contain a query; use format: to choose ?debug=N");
  CHECK(problem(check_profile_path("/x#y")) == "profile_path \"/x#y\" must not contain '#'");
  CHECK(problem(check_profile_path("/a b")) == "profile_path \"/a b\" must not contain spaces or control characters");
}

TEST_CASE("quote escapes control bytes and shortens long values", "[config]") {
  CHECK(quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(quote("a\r\nb") == "\"a\\x0d\\x0ab\"");
  CHECK(quote(std::string(100, 'x')) == "\"" + std::string(64, 'x') + "\"...");
  // Never cuts inside a UTF-8 sequence: 63 ASCII bytes, then a 2-byte 'é' straddling the limit.
  CHECK(quote(std::string(63, 'x') + "\xc3\xa9yz") == "\"" + std::string(63, 'x') + "\"...");
  CHECK(quote("\xff\xfe") == "\"\\xff\\xfe\"");
}
