#include "leakwatch/stats/sliding_window.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace leakwatch::stats;

namespace {

std::vector<Sample> contents(const SlidingWindow& w) {
  std::vector<Sample> out;
  w.copy_to(out);
  return out;
}

// The window's incremental statistics against the batch functions on its contents.
void check_against_batch(const SlidingWindow& w) {
  const auto samples = contents(w);
  REQUIRE(samples.size() == w.size());
  const auto inc = w.mann_kendall();
  const auto batch = mann_kendall(samples);
  REQUIRE(inc.n == batch.n);
  REQUIRE(inc.s == batch.s);
  REQUIRE(inc.variance == batch.variance);
  REQUIRE(inc.z == batch.z);
  REQUIRE(inc.p_increasing == batch.p_increasing);
  REQUIRE(w.theil_sen() == theil_sen_slope(samples));
  const auto ls = w.least_squares();
  const auto ls_batch = least_squares(samples);
  REQUIRE(ls.has_value() == ls_batch.has_value());
  if (ls) {
    REQUIRE(ls->slope == ls_batch->slope);
    REQUIRE(ls->intercept == ls_batch->intercept);
  }
}

}  // namespace

TEST_CASE("window keeps samples inside the span, oldest first", "[stats]") {
  SlidingWindow w(60, 100);
  CHECK(w.empty());
  CHECK(w.span_seconds() == 60);
  for (int i = 0; i < 10; ++i) CHECK(w.push({15.0 * i, static_cast<double>(i)}));
  // Newest t = 135; kept: t > 75, i.e. 90, 105, 120, 135.
  REQUIRE(w.size() == 4);
  CHECK(w.front().t == 90);
  CHECK(w.back().t == 135);
  CHECK(w[1].v == 7);
  CHECK(w[3].v == 9);
}

TEST_CASE("window drops the oldest beyond max_samples", "[stats]") {
  SlidingWindow w(1e9, 5);
  for (int i = 0; i < 12; ++i) w.push({static_cast<double>(i), static_cast<double>(i * i)});
  REQUIRE(w.size() == 5);
  CHECK(w.front().t == 7);
  CHECK(w.back().v == 121);
  for (std::size_t i = 0; i < 5; ++i) CHECK(w[i].t == static_cast<double>(7 + i));
}

TEST_CASE("window ignores out-of-order and non-finite samples", "[stats]") {
  SlidingWindow w(100, 10);
  CHECK(w.push({10, 1}));
  CHECK_FALSE(w.push({10, 2}));
  CHECK_FALSE(w.push({5, 2}));
  CHECK_FALSE(w.push({std::numeric_limits<double>::quiet_NaN(), 2}));
  CHECK_FALSE(w.push({11, std::numeric_limits<double>::infinity()}));
  CHECK(w.push({11, 3}));
  CHECK(w.size() == 2);
  CHECK(w.back().v == 3);
  w.clear();
  CHECK(w.empty());
  CHECK(w.push({1, 1}));  // any time again after clear()
  CHECK(w.mann_kendall().s == 0);
}

TEST_CASE("window statistics on a clean trend", "[stats]") {
  SlidingWindow w(3600, 240);
  for (int i = 0; i < 300; ++i) w.push({1.7e9 + 15.0 * i, 200 + 0.1 * 15.0 * i});
  REQUIRE(w.size() == 240);
  const auto mk = w.mann_kendall();
  CHECK(mk.s == 240.0 * 239 / 2);
  CHECK(mk.p_increasing < 1e-12);
  REQUIRE(w.theil_sen());
  CHECK(*w.theil_sen() == Approx(0.1).epsilon(1e-9));
  REQUIRE(w.least_squares());
  CHECK(w.least_squares()->slope == Approx(0.1).epsilon(1e-9));
}

TEST_CASE("sub-window statistics", "[stats]") {
  SlidingWindow w(1e9, 100);
  // Flat for 60 samples, then rising by 2 per second.
  for (int i = 0; i < 90; ++i) w.push({static_cast<double>(i), i < 60 ? 10.0 : 10.0 + 2 * (i - 59)});
  CHECK(w.index_since(60) == 60);
  CHECK(w.index_since(-5) == 0);
  CHECK(w.index_since(1000) == 90);
  CHECK(w.index_since(59.5) == 60);
  const auto recent = w.least_squares_since(60);
  REQUIRE(recent);
  CHECK(recent->slope == Approx(2));
  CHECK(w.theil_sen_since(60) == 2.0);
  CHECK(w.mann_kendall_since(60).s == 30.0 * 29 / 2);
  CHECK(w.mann_kendall_since(0).s == w.mann_kendall().s);
  CHECK_FALSE(w.least_squares_since(89).has_value());  // one sample
  CHECK_FALSE(w.theil_sen_since(1000).has_value());
}

TEST_CASE("incremental statistics equal the batch ones after many pushes and evictions", "[stats]") {
  std::mt19937_64 rng(1234);
  struct Case {
    double span;
    std::size_t max;
    int values;  // distinct values modulo this (ties), 0 for a noisy trend
  };
  const Case cases[] = {{3600, 240, 0}, {3600, 240, 3}, {600, 1000, 5}, {1e9, 50, 2}, {900, 100, 0}, {1e9, 64, 1}};
  for (const Case& c : cases) {
    SlidingWindow w(c.span, c.max);
    double t = 1.7e9;
    double level = 1000;
    double slope = 0;
    for (int i = 0; i < 1500; ++i) {
      // Irregular steps, with occasional gaps that evict most of the window by time.
      t += (rng() % 50 == 0) ? 400 + static_cast<double>(rng() % 600) : 5 + static_cast<double>(rng() % 20);
      if (rng() % 200 == 0) slope = static_cast<double>(static_cast<int>(rng() % 9) - 4) * 0.5;  // trend changes
      level += slope;
      const double v = c.values > 0 ? static_cast<double>(rng() % static_cast<unsigned>(c.values))
                                    : std::round(level + static_cast<double>(rng() % 41) - 20);
      REQUIRE(w.push({t, v}));
      if (i % 7 == 0 || i > 1450) check_against_batch(w);
    }
    CHECK(w.size() <= c.max);
  }
}

TEST_CASE("window memory is bounded", "[stats]") {
  SlidingWindow w(3600, 240);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 240; ++i) w.push({15.0 * i, static_cast<double>(rng() % 100)});
  const std::size_t full = w.memory_bytes();
  CHECK(full >= sizeof(SlidingWindow) + 240 * sizeof(Sample));
  for (int i = 240; i < 5000; ++i) w.push({15.0 * i, static_cast<double>(rng() % 100) + i * 0.01});
  CHECK(w.size() == 240);
  // The ring never grows past max_samples, and the Theil-Sen band stays within its bound.
  CHECK(w.memory_bytes() <= sizeof(SlidingWindow) + 240 * sizeof(Sample) + (4 * 240 + 64) * 2 * sizeof(double));
  w.clear();
  CHECK(w.memory_bytes() == sizeof(SlidingWindow));
}
