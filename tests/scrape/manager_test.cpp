#include "leakwatch/scrape/manager.hpp"
#include "leakwatch/scrape/workload.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

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
  CHECK(first.labels == scrape::LabelMap{{"service", "payments"}, {"target", "127.0.0.1:6060"}, {"team", "pay"}});
  CHECK(first.interval == common::Duration{5'000});
  CHECK(first.timeout == common::Duration{2'000});
  CHECK(first.request.body_limit == (1u << 20));
  CHECK(first.profile.limits.max_decompressed_bytes == (1u << 20));
  CHECK(first.profile.format == pprof::Format::debug2);
  CHECK(first.endpoint.host == "127.0.0.1");
  CHECK(first.endpoint.port == "6060");
  CHECK(first.request.target == "/debug/pprof/goroutine?debug=2");
  CHECK_FALSE(first.endpoint.https);

  const auto& v6 = plan[1];
  CHECK(v6.endpoint.host == "::1");
  CHECK(v6.endpoint.port == "6061");
  CHECK(v6.endpoint.host_header == "[::1]:6061");

  const auto& tls = plan[2];
  CHECK(tls.endpoint.https);
  CHECK_FALSE(tls.endpoint.tls_verify);
  CHECK(tls.endpoint.server_name == "search.local");
  CHECK(tls.request.target == "/internal/pprof/goroutine?debug=1");
  CHECK(tls.labels == scrape::LabelMap{{"service", "search"}, {"target", "search-0:8443"}});
  CHECK(first.profile.kind == pprof::ProfileKind::goroutine);
}

TEST_CASE("a goroutineleak job's loops expect that profile kind", "[scrape]") {
  auto c = two_jobs();
  c.scrape_configs[1].profile = pprof::ProfileKind::goroutineleak;
  c.scrape_configs[1].profile_path = std::string(config::kGoroutineLeakPath);
  const auto plan = scrape::plan_targets(c);
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].profile.kind == pprof::ProfileKind::goroutine);
  CHECK(plan[2].profile.kind == pprof::ProfileKind::goroutineleak);
  CHECK(plan[2].request.target == "/debug/pprof/goroutineleak?debug=1");
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

namespace {

config::Config sd_jobs() {
  config::Config c;
  config::ScrapeConfig a;
  a.job_name = "files";
  a.scrape_interval = common::Duration{3'600'000};  // long enough that no poll happens during a test
  a.scrape_timeout = common::Duration{1'000};
  a.static_configs.push_back({{"127.0.0.1:9"}, {{"origin", "static"}}});
  config::FileSdConfig f;
  f.files = {"/nonexistent/targets.json"};
  a.file_sd_configs.push_back(f);
  c.scrape_configs = {a};
  return c;
}

discovery::TargetGroup group(std::vector<std::string> targets, std::map<std::string, std::string> labels = {},
                             std::string path = {}) {
  discovery::TargetGroup g;
  g.source = "test";
  g.targets = std::move(targets);
  g.labels = std::move(labels);
  g.profile_path = std::move(path);
  return g;
}

}  // namespace

TEST_CASE("plan_targets adds discovered groups after static ones, once per target", "[scrape]") {
  const config::Config c = sd_jobs();
  scrape::DiscoveredGroups found;
  found["files"] = {group({"127.0.0.1:10", "127.0.0.1:9"}, {{"origin", "file"}}),
                    group({"127.0.0.1:11"}, {}, "/custom/goroutine")};
  found["unknown job"] = {group({"127.0.0.1:12"})};
  const auto plan = scrape::plan_targets(c, found);
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].target == "127.0.0.1:9");
  CHECK(plan[0].labels.at("origin") == "static");  // listed statically first: the static entry wins
  CHECK(plan[1].target == "127.0.0.1:10");
  CHECK(plan[1].labels == scrape::LabelMap{{"origin", "file"}, {"service", "files"}, {"target", "127.0.0.1:10"}});
  CHECK(plan[1].request.target == "/debug/pprof/goroutine?debug=1");
  CHECK(plan[2].request.target == "/custom/goroutine?debug=1");  // the group's profile_path overrides the job's
  // Not pods: each address is its own workload, whose priors a restarted loop of it starts from.
  CHECK(plan[1].workload == scrape::workload_key("files", "127.0.0.1:10", plan[1].labels));
  CHECK(plan[1].workload != plan[2].workload);
}

TEST_CASE("plan_targets gives pods of one app one workload", "[scrape]") {
  config::Config c = sd_jobs();
  c.scrape_configs[0].static_configs.clear();
  scrape::DiscoveredGroups found;
  found["files"] = {group({"10.0.0.1:6060"}, {{"namespace", "shop"}, {"app", "cart"}, {"pod", "cart-1"}}),
                    group({"10.0.0.2:6060"}, {{"namespace", "shop"}, {"app", "cart"}, {"pod", "cart-2"}}),
                    group({"10.0.0.3:6060"}, {{"namespace", "shop"}, {"app", "pay"}, {"pod", "pay-1"}})};
  const auto plan = scrape::plan_targets(c, found);
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].workload == plan[1].workload);
  CHECK(plan[0].workload != plan[2].workload);
}

TEST_CASE("plan_targets keeps only this shard's targets; the shards partition the plan", "[scrape]") {
  config::Config c = sd_jobs();
  c.scrape_configs[0].static_configs.clear();
  std::vector<std::string> targets;
  for (int port = 1000; port < 1300; ++port) targets.push_back("10.0.0.1:" + std::to_string(port));
  scrape::DiscoveredGroups found{{"files", {group(targets)}}};
  std::map<std::string, int> owners;
  for (unsigned index = 0; index < 3; ++index) {
    const auto plan = scrape::plan_targets(c, found, discovery::Shard{3, index});
    CHECK(plan.size() > 70);  // ~100 each
    CHECK(plan.size() < 130);
    for (const auto& s : plan) {
      ++owners[s.target];
      CHECK(discovery::in_shard(discovery::shard_key("files", s.target), 3, index));
    }
  }
  CHECK(owners.size() == targets.size());
  for (const auto& [target, n] : owners) CHECK(n == 1);
}

namespace {

// A provider the test drives by hand.
struct FakeProvider : discovery::Provider {
  discovery::UpdateFn update;
  int starts = 0;
  bool stopped = false;
  void start(discovery::UpdateFn u) override {
    ++starts;
    update = std::move(u);
  }
  void stop(std::function<void()> done) override {
    stopped = true;
    if (done) done();
  }
};

template <class Pred>
bool run_until(boost::asio::io_context& io, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(5));
    if (io.stopped()) io.restart();
  }
  return pred();
}

}  // namespace

TEST_CASE("the manager follows provider updates and keeps providers whose config did not change", "[scrape]") {
  boost::asio::io_context io;
  prometheus::Registry registry;
  std::vector<std::shared_ptr<FakeProvider>> made;
  scrape::ManagerOptions options;
  options.providers = [&](const std::string&, const discovery::SdConfig&) {
    made.push_back(std::make_shared<FakeProvider>());
    return made.back();
  };
  auto manager = std::make_shared<scrape::Manager>(io, registry, std::make_shared<scrape::SeriesSet>(), options);
  auto config = std::make_shared<config::Config>(sd_jobs());
  bool applied = false;
  manager->apply(config, [&] { applied = true; });
  REQUIRE(run_until(io, [&] { return applied; }));
  REQUIRE(made.size() == 1);
  CHECK(made[0]->starts == 1);
  CHECK(manager->target_count() == 1);  // the static target

  made[0]->update({group({"127.0.0.1:10", "127.0.0.1:11"})});
  REQUIRE(run_until(io, [&] { return manager->target_count() == 3; }));
  made[0]->update({group({"127.0.0.1:11"})});
  REQUIRE(run_until(io, [&] { return manager->target_count() == 2; }));

  // A reload that changes another setting of the job keeps the provider and its targets.
  auto changed = std::make_shared<config::Config>(*config);
  changed->scrape_configs[0].static_configs[0].labels["origin"] = "static2";
  applied = false;
  manager->apply(changed, [&] { applied = true; });
  REQUIRE(run_until(io, [&] { return applied; }));
  CHECK(made.size() == 1);
  CHECK_FALSE(made[0]->stopped);
  CHECK(manager->target_count() == 2);

  // A changed sd config replaces the provider; its predecessor's targets stand until the successor reports.
  auto replaced = std::make_shared<config::Config>(*changed);
  replaced->scrape_configs[0].file_sd_configs[0].refresh_interval = common::Duration{60'000};
  applied = false;
  manager->apply(replaced, [&] { applied = true; });
  REQUIRE(run_until(io, [&] { return applied; }));
  REQUIRE(made.size() == 2);
  CHECK(made[0]->stopped);
  CHECK(manager->target_count() == 2);
  made[0]->update({group({"127.0.0.1:20", "127.0.0.1:21", "127.0.0.1:22"})});  // late: ignored
  made[1]->update({});
  REQUIRE(run_until(io, [&] { return manager->target_count() == 1; }));
  io.run_for(std::chrono::milliseconds(20));
  CHECK(manager->target_count() == 1);

  bool stopped = false;
  manager->stop([&] { stopped = true; });
  REQUIRE(run_until(io, [&] { return stopped; }));
  CHECK(made[1]->stopped);
}

namespace {

// Throws from the fetch itself: what a bug in the poll path looks like to the loop.
struct ThrowingFetcher : common::Fetcher {
  void fetch(const common::FetchRequest&, common::SteadyTime, std::function<void(common::FetchResult)>) override {
    throw std::runtime_error("injected failure");
  }
  void cancel() noexcept override {}
};

}  // namespace

TEST_CASE("a loop that dies of an exception is counted and replaced", "[scrape]") {
  boost::asio::io_context io;
  prometheus::Registry registry;
  common::ManualClock clock;
  auto series = std::make_shared<scrape::SeriesSet>();
  int fetchers = 0;
  scrape::ManagerOptions options;
  options.clock = &clock;
  options.fetchers = [&](boost::asio::io_context&, const scrape::LoopSettings&, std::shared_ptr<http::TlsContext>) {
    ++fetchers;
    return std::make_unique<ThrowingFetcher>();
  };
  auto manager = std::make_shared<scrape::Manager>(io, registry, series, options);
  config::Config c = sd_jobs();
  c.scrape_configs[0].file_sd_configs.clear();
  c.scrape_configs[0].scrape_interval = common::Duration{10'000};
  bool applied = false;
  manager->apply(std::make_shared<config::Config>(c), [&] { applied = true; });
  REQUIRE(run_until(io, [&] { return applied; }));
  CHECK(fetchers == 1);
  CHECK(series->size() == 1);

  // Each tick's poll throws; each time the manager replaces the loop, which polls again a tick later.
  for (int i = 1; i <= 3; ++i) {
    clock.advance(std::chrono::seconds(10));
    REQUIRE(run_until(io, [&] { return manager->restarts() == static_cast<std::size_t>(i); }));
    REQUIRE(run_until(io, [&] { return fetchers == i + 1; }));
  }
  CHECK(manager->target_count() == 1);
  CHECK(series->size() == 1);  // the dead loops' series are gone; only the successor's remain
  std::string text;
  series->write(text);
  CHECK(text.find("leakwatch_scrape_success{") != std::string::npos);

  bool stopped = false;
  manager->stop([&] { stopped = true; });
  REQUIRE(run_until(io, [&] { return stopped; }));
  CHECK(series->size() == 0);
}
