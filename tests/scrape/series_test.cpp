// The targets' series as /metrics shows them: label values made safe at this boundary (invalid UTF-8,
// quotes, backslashes, newlines), series present only once they mean something, and removal of any number
// of targets.

#include "leakwatch/scrape/series.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace leakwatch;

namespace {

std::string text(const scrape::SeriesSet& set) {
  std::string out;
  set.write(out);
  return out;
}

// `function` must be a string literal: frames view strings the profile owns, or literals.
pprof::Profile one_group(std::string_view function, std::uint64_t count) {
  pprof::Profile p;
  p.total = count;
  pprof::StackGroup g;
  g.count = count;
  g.frames.push_back(pprof::Frame{function, "/src/main.go", 42});
  p.groups.push_back(std::move(g));
  return p;
}

}  // namespace

TEST_CASE("series: label values are valid UTF-8 and escaped, whatever the target sent", "[scrape]") {
  scrape::SeriesSet set;
  auto t = set.add({{"service", "api"}, {"target", "h:1"}, {"team", "a\"b\\c\nd\xff"}}, pprof::ProfileKind::goroutine);
  t->record_failure(common::Outcome::timeout, 0.5);
  const std::string out = text(set);
  CHECK(out.find(R"(leakwatch_scrape_success{service="api",target="h:1",team="a\"b\\c\nd)"
                 "\xef\xbf\xbd"
                 R"("} 0)") != std::string::npos);
  CHECK(out.find('\xff') == std::string::npos);

  detect::Options o;
  o.warmup = common::Duration{0};
  detect::TargetDetector d(o);
  d.observe(1000, one_group("main.leak\xffy", 5));
  t->record_detection(d);
  const std::string after = text(set);
  CHECK(after.find("function=\"main.leak\xef\xbf\xbdy\"") != std::string::npos);
  CHECK(after.find('\xff') == std::string::npos);
}

TEST_CASE("series: counts appear with the first success, every result from the start", "[scrape]") {
  scrape::SeriesSet set;
  auto t = set.add({{"service", "api"}, {"target", "h:1"}}, pprof::ProfileKind::goroutine);
  std::string out = text(set);
  CHECK(out.find("# TYPE leakwatch_goroutines gauge\n") != std::string::npos);
  CHECK(out.find("leakwatch_goroutines{") == std::string::npos);
  for (const char* r : {"success", "timeout", "connect_error", "http_error", "parse_error", "too_large"}) {
    CHECK(out.find(std::string(R"(leakwatch_scrapes_total{service="api",target="h:1",result=")") + r + "\"} 0\n") !=
          std::string::npos);
  }
  t->record_success(0.25, 1234, 63, 20, 1.7e9);
  out = text(set);
  CHECK(out.find(R"(leakwatch_goroutines{service="api",target="h:1"} 63)") != std::string::npos);
  CHECK(out.find(R"(leakwatch_scrape_response_bytes{service="api",target="h:1"} 1234)") != std::string::npos);
  CHECK(out.find(R"(leakwatch_scrape_duration_seconds{service="api",target="h:1"} 0.25)") != std::string::npos);
  CHECK(out.find("leakwatch_leaked_goroutines{") == std::string::npos);

  auto leak = set.add({{"service", "leak"}, {"target", "h:2"}}, pprof::ProfileKind::goroutineleak);
  leak->record_success(0.1, 10, 3, 1, 1.7e9);
  out = text(set);
  CHECK(out.find(R"(leakwatch_leaked_goroutines{service="leak",target="h:2"} 3)") != std::string::npos);
  CHECK(out.find(R"(leakwatch_goroutines{service="leak")") == std::string::npos);
}

TEST_CASE("series: each family is one contiguous block, whatever the number of targets", "[scrape]") {
  scrape::SeriesSet set;
  std::vector<std::shared_ptr<scrape::TargetSeries>> targets;
  for (int i = 0; i < 3; ++i) {
    targets.push_back(set.add({{"service", "s"}, {"target", "h:" + std::to_string(i)}}, pprof::ProfileKind::goroutine));
    targets.back()->record_success(0.1, 1, 1, 1, 1);
  }
  const std::string out = text(set);
  const auto first = out.find("leakwatch_scrape_success{");
  const auto type = out.find("# TYPE leakwatch_scrape_duration_seconds");
  CHECK(out.rfind("leakwatch_scrape_success{") < type);
  CHECK(first > out.find("# TYPE leakwatch_scrape_success"));
}

TEST_CASE("series: destroying a target's series removes them; 10,000 come and go", "[scrape]") {
  scrape::SeriesSet set;
  std::vector<std::shared_ptr<scrape::TargetSeries>> targets;
  for (int i = 0; i < 10'000; ++i) {
    targets.push_back(set.add({{"service", "s"}, {"target", "10.0.0.1:" + std::to_string(i)}},
                              pprof::ProfileKind::goroutine));
    targets.back()->record_failure(common::Outcome::timeout, 1);
  }
  CHECK(set.size() == 10'000);
  targets.erase(targets.begin(), targets.begin() + 9'999);
  CHECK(set.size() == 1);
  const std::string out = text(set);
  CHECK(out.find("10.0.0.1:9999") != std::string::npos);
  CHECK(out.find("10.0.0.1:0\"") == std::string::npos);
  targets.clear();
  CHECK(set.size() == 0);
}

TEST_CASE("series: a TargetSeries may outlive its SeriesSet", "[scrape]") {
  std::shared_ptr<scrape::TargetSeries> t;
  {
    scrape::SeriesSet set;
    t = set.add({{"service", "s"}}, pprof::ProfileKind::goroutine);
  }
  t->record_failure(common::Outcome::timeout, 1);
  t.reset();  // unregisters from a registry the set no longer holds: must not touch freed memory
  SUCCEED();
}
