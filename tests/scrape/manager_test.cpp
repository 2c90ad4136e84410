#include "leakwatch/scrape/manager.hpp"

#include <catch2/catch.hpp>

using namespace leakwatch;

namespace {

config::Config two_jobs() {
  config::Config c;
  config::ScrapeConfig a;
  a.job_name = "payments";
  a.scrape_interval = common::Duration{5'000};
  a.scrape_timeout = common::Duration{2'000};
  a.body_size_limit = 1 << 20;
  a.format = pprof::Format::debug2;
  a.static_configs.push_back({{"127.0.0.1:6060", "[::1]:6061"}, {{"team", "pay"}}});
  config::ScrapeConfig b;
  b.job_name = "search";
  b.scheme = config::Scheme::https;
  b.profile_path = "/internal/pprof/goroutine";
  b.tls_config.insecure_skip_verify = true;
  b.tls_config.server_name = "search.local";
  b.scrape_interval = common::Duration{15'000};
  b.scrape_timeout = common::Duration{10'000};
  b.body_size_limit = 64 << 20;
  b.static_configs.push_back({{"search-0:8443"}, {}});
  c.scrape_configs = {a, b};
  return c;
}

}  // namespace

TEST_CASE("plan_targets turns every static target into loop settings", "[scrape]") {
  const auto plan = scrape::plan_targets(two_jobs());
  REQUIRE(plan.size() == 3);

  const auto& first = plan[0];
  CHECK(first.service == "payments");
  CHECK(first.target == "127.0.0.1:6060");
  CHECK(first.labels == prometheus::Labels{{"service", "payments"}, {"target", "127.0.0.1:6060"}, {"team", "pay"}});
  CHECK(first.interval == common::Duration{5'000});
  CHECK(first.timeout == common::Duration{2'000});
  CHECK(first.body_limit == (1u << 20));
  CHECK(first.endpoint.host == "127.0.0.1");
  CHECK(first.endpoint.port == "6060");
  CHECK(first.endpoint.path == "/debug/pprof/goroutine?debug=2");
  CHECK_FALSE(first.endpoint.https);

  const auto& v6 = plan[1];
  CHECK(v6.endpoint.host == "::1");
  CHECK(v6.endpoint.port == "6061");
  CHECK(v6.endpoint.host_header == "[::1]:6061");

  const auto& tls = plan[2];
  CHECK(tls.endpoint.https);
  CHECK_FALSE(tls.endpoint.tls_verify);
  CHECK(tls.endpoint.server_name == "search.local");
  CHECK(tls.endpoint.path == "/internal/pprof/goroutine?debug=1");
  CHECK(tls.labels == prometheus::Labels{{"service", "search"}, {"target", "search-0:8443"}});
  CHECK(first.kind == pprof::ProfileKind::goroutine);
}

TEST_CASE("a goroutineleak job's loops expect that profile kind", "[scrape]") {
  auto c = two_jobs();
  c.scrape_configs[1].profile = pprof::ProfileKind::goroutineleak;
  c.scrape_configs[1].profile_path = std::string(config::kGoroutineLeakPath);
  const auto plan = scrape::plan_targets(c);
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].kind == pprof::ProfileKind::goroutine);
  CHECK(plan[2].kind == pprof::ProfileKind::goroutineleak);
  CHECK(plan[2].endpoint.path == "/debug/pprof/goroutineleak?debug=1");
  // A changed kind is a changed loop: reload restarts it with the other metric names.
  CHECK_FALSE(plan[2] == scrape::plan_targets(two_jobs())[2]);
}

TEST_CASE("changing one job's settings changes only its targets' settings", "[scrape]") {
  auto before = two_jobs();
  auto after = before;
  after.scrape_configs[1].scrape_interval = common::Duration{30'000};
  const auto a = scrape::plan_targets(before);
  const auto b = scrape::plan_targets(after);
  CHECK(a[0] == b[0]);
  CHECK(a[1] == b[1]);
  CHECK_FALSE(a[2] == b[2]);
}
