#include "leakwatch/scrape/schedule.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace leakwatch::scrape;
using leakwatch::common::Duration;
using std::chrono::milliseconds;

TEST_CASE("offsets are stable and inside the interval", "[scrape]") {
  const Duration interval{15'000};
  const auto a = schedule_offset("payments/127.0.0.1:6060", interval);
  CHECK(a == schedule_offset("payments/127.0.0.1:6060", interval));
  CHECK(a != schedule_offset("payments/127.0.0.1:6061", interval));
  CHECK(a >= Duration{0});
  CHECK(a < interval);
  CHECK(schedule_offset("x", Duration{0}) == Duration{0});
}

TEST_CASE("1,000 targets spread over the interval instead of firing at once", "[scrape]") {
  const Duration interval{10'000};
  std::vector<int> per_second(10, 0);
  for (int i = 0; i < 1000; ++i) {
    const auto off = schedule_offset("job/10.0.0." + std::to_string(i % 250) + ":" + std::to_string(6060 + i / 250),
                                     interval);
    per_second[static_cast<std::size_t>(off.count() / 1000)]++;
  }
  // Uniform would be 100 per second; a fixed seed makes this deterministic, the bounds leave room for chance.
  CHECK(*std::max_element(per_second.begin(), per_second.end()) < 150);
  CHECK(*std::min_element(per_second.begin(), per_second.end()) > 50);
}

TEST_CASE("the first tick is pinned to wall-clock phase", "[scrape]") {
  const SteadyTime steady{milliseconds(1'000'000)};
  const Duration interval{15'000};
  // Wall clock at 100 s: phase 10 s into the 15 s interval.
  const WallTime wall{milliseconds(100'000)};
  CHECK(first_tick(steady, wall, interval, Duration{12'000}) == steady + milliseconds(2'000));
  CHECK(first_tick(steady, wall, interval, Duration{10'000}) == steady);
  CHECK(first_tick(steady, wall, interval, Duration{3'000}) == steady + milliseconds(8'000));
  // A restart at another wall time polls at the same phase.
  const WallTime later{milliseconds(107'500)};
  const auto t = first_tick(steady, later, interval, Duration{3'000});
  CHECK((107'500 + (t - steady) / milliseconds(1)) % 15'000 == 3'000);
}

TEST_CASE("ticks stay on the grid and never drift", "[scrape]") {
  const Duration interval{1'000};
  const SteadyTime start{milliseconds(50'000)};
  SteadyTime tick = start;
  // Each poll takes a different time; the grid does not move.
  for (int i = 1; i <= 100; ++i) {
    const auto finished = tick + milliseconds(i % 7 * 100);
    tick = next_tick(tick, interval, finished);
    CHECK(tick == start + i * interval);
  }
}

TEST_CASE("a poll that overran skips the ticks it missed", "[scrape]") {
  const Duration interval{1'000};
  const SteadyTime start{milliseconds(50'000)};
  CHECK(next_tick(start, interval, start + milliseconds(3'500)) == start + milliseconds(4'000));
  // Ending exactly on a grid point: that point has passed, the next one is taken.
  CHECK(next_tick(start, interval, start + milliseconds(2'000)) == start + milliseconds(3'000));
}
