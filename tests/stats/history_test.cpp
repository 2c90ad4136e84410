#include "leakwatch/stats/history.hpp"

#include <catch2/catch.hpp>

using leakwatch::stats::History;

TEST_CASE("History keeps one smoothed checkpoint per step and interpolates between them", "[stats][history]") {
  History h(60);
  CHECK(h.empty());
  CHECK_FALSE(h.value_at(0).has_value());
  for (int i = 0; i <= 24; ++i) h.push(1000 + 15.0 * i, 2.0 * i);  // every 15 s, +2 per sample (8 a minute)
  // Steps [0,60), ..., [300,360) closed by the next step's first sample: six, each the mean of 4 samples.
  CHECK(h.size() == 6);
  CHECK(h.samples_per_checkpoint() == Approx(4));
  CHECK(h.first_t() == 1000);
  // A linear series' means lie on the line: the value at any time between checkpoints is exact.
  CHECK(h.value_at(1000 + 22.5).value() == Approx(3));
  CHECK(h.value_at(1000 + 100).value() == Approx(100 * 8.0 / 60));
  CHECK(h.value_at(1000 + 262.5).value() == Approx(35));
  CHECK(h.value_at(1000).value() == Approx(3));  // before the first checkpoint's mean time: its value
  CHECK_FALSE(h.value_at(999).has_value());
  CHECK_FALSE(h.value_at(1350).has_value());  // the step being filled is not closed yet: the window knows
  h.push(1200, 99);                           // not newer than the last sample: ignored
  CHECK(h.value_at(1000 + 262.5).value() == Approx(35));
}

TEST_CASE("History smooths a count that scatters from poll to poll", "[stats][history]") {
  History h(60);
  for (int i = 0; i < 400; ++i) h.push(15.0 * i, 100 + (i % 2 == 0 ? 5 : -5));  // +-5 around 100
  for (double t : {100.0, 1000.0, 5000.0}) CHECK(h.value_at(t).value() == Approx(100).margin(1e-3));
}

TEST_CASE("History stays bounded and still reaches back to the first sample", "[stats][history]") {
  History h(60);
  for (int i = 0; i < 4 * 24 * 60; ++i) h.push(60.0 * i + 30, i);  // four days at one sample a minute
  CHECK(h.size() <= History::kSlots);
  CHECK(h.size() >= History::kSlots / 2);
  CHECK(h.step_seconds() >= 60.0 * 4 * 24 * 60 / History::kSlots);
  // A linear series interpolates exactly whatever the grain, back to the first checkpoint's mean time (half a
  // step, some 3 h here); before that, the first checkpoint's value.
  for (double minute : {1000.0, 3000.0, 5000.0}) CHECK(h.value_at(60 * minute + 30).value() == Approx(minute));
  CHECK(h.value_at(60 * 100.0).value() == Approx(h.value_at(30).value()));
  h.clear();
  CHECK(h.empty());
  CHECK(h.step_seconds() == 60);
}

TEST_CASE("a gap of many steps is skipped, not walked", "[stats][history]") {
  History h(60);
  h.push(0, 1);
  h.push(30, 1);
  h.push(86'400, 7);  // a day later: closes the first step only
  CHECK(h.size() == 1);
  h.push(86'400 + 90, 9);
  CHECK(h.size() == 2);
  CHECK(h.value_at(86'400).value() == Approx(7));
  CHECK(h.value_at(43'215).value() == Approx(4).margin(0.01));  // interpolated across the gap
}
