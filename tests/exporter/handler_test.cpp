#include "leakwatch/exporter/handler.hpp"

#include "leakwatch/common/gzip.hpp"

#include <catch2/catch.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <locale>

namespace http = boost::beast::http;
using namespace leakwatch::exporter;

namespace {

Request get(std::string target, http::verb verb = http::verb::get) {
  Request req{verb, target, 11};
  req.prepare_payload();
  return req;
}

struct Fixture {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  bool ready = false;
  std::optional<std::string> reload_error;
  int reloads = 0;
  Handlers handlers;

  Fixture() {
    prometheus::BuildGauge()
        .Name("leakwatch_goroutines")
        .Help("Goroutines.")
        .Register(*registry)
        .Add({{"service", "api"}, {"target", "127.0.0.1:6060"}})
        .Set(1234.5);
    handlers.collectables.push_back(registry);
    handlers.ready = [this] { return ready; };
    handlers.reload = [this] {
      ++reloads;
      return reload_error;
    };
  }
};

}  // namespace

TEST_CASE("/metrics serves the registry in the text format", "[exporter]") {
  Fixture f;
  const auto res = handle_request(get("/metrics"), f.handlers);
  CHECK(res.result() == http::status::ok);
  CHECK(res[http::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(res.body().find("# TYPE leakwatch_goroutines gauge\n") != std::string::npos);
  CHECK(res.body().find("leakwatch_goroutines{service=\"api\",target=\"127.0.0.1:6060\"} 1234.5\n") !=
        std::string::npos);
}

TEST_CASE("/metrics is gzipped for scrapers that accept it", "[exporter]") {
  Fixture f;
  auto req = get("/metrics");
  req.set(http::field::accept_encoding, "gzip, deflate");
  const auto res = handle_request(req, f.handlers);
  CHECK(res[http::field::content_encoding] == "gzip");
  const auto plain = leakwatch::common::gunzip(res.body(), 1 << 20);
  REQUIRE(plain.status == leakwatch::common::InflateStatus::ok);
  CHECK(plain.out == handle_request(get("/metrics"), f.handlers).body());
}

TEST_CASE("/metrics writes a decimal point under a locale with a decimal comma", "[exporter]") {
  // A German-style numpunct as the global locale: streams created without an explicit locale would print
  // "1234,5", which no Prometheus parser accepts. (No system locale needed, so this runs everywhere.)
  struct Comma : std::numpunct<char> {
    char do_decimal_point() const override { return ','; }
    char do_thousands_sep() const override { return '.'; }
    std::string do_grouping() const override { return "\3"; }
  };
  Fixture f;
  const std::locale previous = std::locale::global(std::locale(std::locale::classic(), new Comma));
  const auto res = handle_request(get("/metrics"), f.handlers);
  std::locale::global(previous);
  CHECK(res.body().find("} 1234.5\n") != std::string::npos);
}

TEST_CASE("health and readiness", "[exporter]") {
  Fixture f;
  CHECK(handle_request(get("/-/healthy"), f.handlers).result() == http::status::ok);
  CHECK(handle_request(get("/-/ready"), f.handlers).result() == http::status::service_unavailable);
  f.ready = true;
  CHECK(handle_request(get("/-/ready"), f.handlers).result() == http::status::ok);
  // HEAD: the same status and length, no body.
  const auto head = handle_request(get("/-/healthy", http::verb::head), f.handlers);
  CHECK(head.result() == http::status::ok);
  CHECK(head.body().empty());
  CHECK(head[http::field::content_length] == "9");  // "Healthy.\n"
  CHECK(handle_request(get("/-/ready", http::verb::head), f.handlers).result() == http::status::ok);
  f.ready = false;
  CHECK(handle_request(get("/-/ready", http::verb::head), f.handlers).result() == http::status::service_unavailable);
  CHECK(handle_request(get("/-/healthy", http::verb::post), f.handlers).result() == http::status::method_not_allowed);
}

TEST_CASE("without --web.enable-lifecycle /-/reload is forbidden", "[exporter]") {
  Fixture f;
  f.handlers.reload = nullptr;
  const auto res = handle_request(get("/-/reload", http::verb::post), f.handlers);
  CHECK(res.result() == http::status::forbidden);
  CHECK(res.body() == "Lifecycle API is not enabled.\n");
  CHECK(f.reloads == 0);
}

TEST_CASE("reload takes POST or PUT and reports a refused config", "[exporter]") {
  Fixture f;
  CHECK(handle_request(get("/-/reload"), f.handlers).result() == http::status::method_not_allowed);
  CHECK(f.reloads == 0);
  CHECK(handle_request(get("/-/reload", http::verb::post), f.handlers).result() == http::status::ok);
  CHECK(handle_request(get("/-/reload", http::verb::put), f.handlers).result() == http::status::ok);
  f.reload_error = "leakwatch.yml:3:5: unknown key \"scrape_intervall\"";
  const auto res = handle_request(get("/-/reload", http::verb::post), f.handlers);
  CHECK(res.result() == http::status::internal_server_error);
  CHECK(res.body().find("leakwatch.yml:3:5") != std::string::npos);
  CHECK(f.reloads == 3);
}

TEST_CASE("unknown paths and methods", "[exporter]") {
  Fixture f;
  CHECK(handle_request(get("/nope"), f.handlers).result() == http::status::not_found);
  CHECK(handle_request(get("/metrics", http::verb::post), f.handlers).result() == http::status::method_not_allowed);
  CHECK(handle_request(get("/metrics?x=1"), f.handlers).result() == http::status::ok);
  const auto landing = handle_request(get("/"), f.handlers);
  CHECK(landing.result() == http::status::ok);
  CHECK(landing.body().find("href=\"metrics\"") != std::string::npos);
}
