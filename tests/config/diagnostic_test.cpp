#include "leakwatch/config/load.hpp"

#include <catch2/catch.hpp>

using leakwatch::config::Diagnostic;

TEST_CASE("Diagnostic prints file:line:column: message like a compiler", "[config]") {
  const Diagnostic d{"leakwatch.yml", 3, 17, "job \"app\": scheme: invalid value \"ftp\"; allowed: http, https"};
  CHECK(d.to_string() == "leakwatch.yml:3:17: job \"app\": scheme: invalid value \"ftp\"; allowed: http, https");
}

TEST_CASE("Diagnostic without a position prints file: message", "[config]") {
  const Diagnostic d{"/etc/leakwatch.yml", 0, 0, "cannot read config file: Permission denied"};
  CHECK(d.to_string() == "/etc/leakwatch.yml: cannot read config file: Permission denied");
}

TEST_CASE("Diagnostic without a file name still prints the position", "[config]") {
  CHECK(Diagnostic{"", 2, 5, "boom"}.to_string() == "2:5: boom");
  CHECK(Diagnostic{"", 0, 0, "boom"}.to_string() == "boom");
}
