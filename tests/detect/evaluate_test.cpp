#include "leakwatch/detect/evaluate.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

using namespace leakwatch;
using detect::evaluate;
using detect::Options;

namespace {

constexpr double kT0 = 1.7e9;  // epoch-sized times, as the daemon uses
constexpr double kStep = 15;   // seconds between polls

// A window of n polls whose values come from f(minutes since the first).
template <class F>
stats::SlidingWindow window_of(std::size_t n, F f) {
  stats::SlidingWindow w(3600, 720);
  for (std::size_t i = 0; i < n; ++i) {
    const double minutes = static_cast<double>(i) * kStep / 60;
    w.push({kT0 + static_cast<double>(i) * kStep, std::round(f(minutes))});
  }
  return w;
}

}  // namespace

TEST_CASE("a group that only grows is a candidate once the evidence suffices", "[detect]") {
  const Options o;
  // 2 goroutines a minute from 10: after 10 minutes (41 polls) it has risen by 20.
  const auto w = window_of(41, [](double m) { return 10 + 2 * m; });
  const auto v = evaluate(w, o, /*stack=*/true);
  CHECK(v.reason == "");
  CHECK(v.candidate);
  CHECK(v.slope == Approx(2.0 / 60).epsilon(0.02));
  CHECK(v.p_value < 1e-6);

  SECTION("but not before min_duration") {
    const auto early = window_of(16, [](double m) { return 10 + 2 * m; });  // 3m45s
    const auto e = evaluate(early, o, true);
    CHECK_FALSE(e.candidate);
    CHECK(e.reason == "window too short");
  }
  SECTION("nor when it rose by less than min_increase") {
    const auto slow = window_of(41, [](double m) { return 10 + 0.4 * m; });  // +4 in 10 minutes
    const auto e = evaluate(slow, o, true);
    CHECK_FALSE(e.candidate);
    CHECK(e.reason == "growth too small");
  }
}

TEST_CASE("noise around a flat level is not growth", "[detect]") {
  std::mt19937 rng(7);
  std::poisson_distribution<int> poisson(500);
  const auto w = window_of(240, [&](double) { return poisson(rng); });
  const auto v = evaluate(w, Options{}, false);
  CHECK_FALSE(v.candidate);
  CHECK(v.reason == "no significant growth");
}

TEST_CASE("growth that levels off is saturating, not a leak", "[detect]") {
  // A pool filling for 20 minutes, then full for 20.
  const auto w = window_of(161, [](double m) { return 50 + 10 * std::min(m, 20.0); });
  const auto v = evaluate(w, Options{}, true);
  CHECK_FALSE(v.candidate);
  CHECK(v.reason == "saturating");
}

TEST_CASE("a stack group whose goroutines come and go is not a leak even while it grows", "[detect]") {
  // Load-driven sessions: Poisson counts around a mean rising from 300 to 600 in 40 minutes.
  std::mt19937 rng(11);
  const auto w = window_of(161, [&](double m) {
    std::poisson_distribution<int> p(300 + 7.5 * m);
    return p(rng);
  });
  const auto v = evaluate(w, Options{}, /*stack=*/true);
  CHECK_FALSE(v.candidate);
  CHECK(v.reason == "goroutines come and go");
  CHECK(detect::movement(w).dispersion == Approx(1.0).margin(0.35));
  // The same counts as a total are growth: for the total, the stacks decide (see detector_test).
  CHECK(evaluate(w, Options{}, /*stack=*/false).candidate);
}

TEST_CASE("a leak sharing its stack with a few short-lived goroutines is still a candidate", "[detect]") {
  // One leaked goroutine every 2 minutes, plus 0-6 healthy ones waiting at the same line at any time.
  std::mt19937 rng(3);
  std::poisson_distribution<int> healthy(3);
  const auto w = window_of(240, [&](double m) { return std::floor(m / 2) + healthy(rng); });
  const auto v = evaluate(w, Options{}, true);
  CHECK(v.reason == "");
  CHECK(v.candidate);
  CHECK(detect::movement(w).dispersion < 0.5);
}

TEST_CASE("a long-lived population that drifts down and back up is not a leak", "[detect]") {
  // Connections that live for hours: little scatter, but the level fell by 40 and came back above.
  const auto w = window_of(240, [](double m) { return 1000 + m + 40 * std::sin(m / 8); });
  const auto v = evaluate(w, Options{}, true);
  CHECK_FALSE(v.candidate);
  CHECK(v.reason == "level turned back");
  CHECK(detect::movement(w).reversal > 8);  // in the window's second half: 1,007 down to 998, then up
}

TEST_CASE("a dip before the growth began is not a reversal of it", "[detect]") {
  // A pool shrinks from 60 to 30 in the first 20 minutes, then goroutines leak at 2 a minute.
  const auto w = window_of(240, [](double m) { return m < 20 ? 60 - 1.5 * m : 30 + 2 * (m - 20); });
  CHECK(detect::movement(w).reversal == Approx(0).margin(1e-9));
  CHECK(evaluate(w, Options{}, true).candidate);
}

TEST_CASE("a population climbing back toward an earlier peak is not a leak", "[detect]") {
  const auto w = window_of(120, [](double m) { return 500 + 10 * m; });  // 500 -> 800 in 30 minutes
  CHECK(evaluate(w, Options{}, true).candidate);
  const auto v = evaluate(w, Options{}, true, /*peak=*/1200.0);  // it was at 1,200 before the night
  CHECK_FALSE(v.candidate);
  CHECK(v.reason == "below an earlier peak");
  CHECK(evaluate(w, Options{}, true, /*peak=*/800.0).candidate);  // at its peak: a new high
}

TEST_CASE("dispersion is 0 for steady growth and about 1 for Poisson counts", "[detect]") {
  const auto line = window_of(100, [](double m) { return 100 + 4 * m; });  // one goroutine a poll
  CHECK(detect::movement(line).dispersion == Approx(0).margin(1e-9));
  // A leak whose rate doubles over the hour is smooth too: the local level follows the curve.
  const auto curve = window_of(240, [](double m) { return 100 + 4 * m + 0.05 * m * m; });
  CHECK(detect::movement(curve).dispersion < 0.1);
  std::mt19937 rng(5);
  std::poisson_distribution<int> p(400);
  const auto noise = window_of(240, [&](double) { return p(rng); });
  CHECK(detect::movement(noise).dispersion == Approx(1.0).margin(0.2));
  const stats::SlidingWindow empty(60, 10);
  CHECK(detect::movement(empty).dispersion == 0);
}

namespace {

// A group's window and history fed with the same polls, values from f(minutes since the first).
struct Life {
  stats::SlidingWindow window{3600, 720};
  stats::History history{60};
};
template <class F>
Life life_of(std::size_t n, F f) {
  Life l;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = kT0 + static_cast<double>(i) * kStep;
    const double v = std::round(f(static_cast<double>(i) * kStep / 60));
    l.window.push({t, v});
    l.history.push(t, v);
  }
  return l;
}

}  // namespace

TEST_CASE("a steady leak keeps pace once enough of its arrivals are seen", "[detect][pace]") {
  const Options o;
  // 3 a minute: after 10 minutes the quarters hold too few arrivals to tell; after 60 they keep pace.
  const auto young = life_of(41, [](double m) { return 3 * m; });
  const auto y = detect::pace(young.history, young.window, 0, o);
  CHECK_FALSE(y.keeps_pace);
  const auto old = life_of(241, [](double m) { return 3 * m; });
  const auto p = detect::pace(old.history, old.window, 0, o);
  CHECK(p.reason == "");
  CHECK(p.keeps_pace);
  // Its life is 60 - 5 = 55 minutes, less the half step its smoothed end lags: quarters of ~41 arrivals.
  CHECK(p.earlier == Approx(p.later).margin(1.5));
  CHECK(p.later == Approx(3 * 54.6 / 4).margin(1.5));
  CHECK(p.p <= o.p_value);
}

TEST_CASE("growth that dries up does not keep pace, however long it lasts", "[detect][pace]") {
  const Options o;
  for (double tau : {30.0, 60.0, 120.0}) {
    const auto l = life_of(4 * 240, [tau](double m) { return 400 * (1 - std::exp(-m / tau)); });
    const auto p = detect::pace(l.history, l.window, 0, o);
    INFO("tau " << tau << ": a1 " << p.earlier << ", a4 " << p.later << ", p " << p.p);
    CHECK_FALSE(p.keeps_pace);
  }
}

TEST_CASE("goroutines that come and go blur the counts, so a lead must be larger", "[detect][pace]") {
  const Options o;
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0, 6);
  // 0.5 a minute for 2 hours beside a turnover population scattering by ~6 goroutines.
  const auto l = life_of(480, [&](double m) { return 200 + 0.5 * m + noise(rng); });
  const auto quiet = detect::pace(l.history, l.window, 0, o);
  const auto noisy = detect::pace(l.history, l.window, 20, o);
  CHECK(noisy.p > quiet.p);
  CHECK_FALSE(noisy.keeps_pace);
}
