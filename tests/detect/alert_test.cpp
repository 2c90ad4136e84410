#include "leakwatch/detect/alert.hpp"

#include <catch2/catch.hpp>

using leakwatch::detect::Alert;
using leakwatch::detect::AlertState;
using leakwatch::detect::Transition;

TEST_CASE("an alert is pending while its condition holds for less than `for`, then fires", "[detect]") {
  Alert a;
  CHECK_FALSE(a.update(false, 0, 60, 0));
  CHECK(a.update(true, 10, 60, 0) == Transition::pending);
  CHECK(a.state() == AlertState::pending);
  CHECK_FALSE(a.update(true, 40, 60, 0));
  CHECK(a.update(true, 70, 60, 0) == Transition::firing);
  CHECK(a.state() == AlertState::firing);
  CHECK_FALSE(a.update(true, 100, 60, 0));
  CHECK(a.update(false, 115, 60, 0) == Transition::resolved);
  CHECK(a.state() == AlertState::inactive);
}

TEST_CASE("a pending alert whose condition lapses resolves and starts over", "[detect]") {
  Alert a;
  CHECK(a.update(true, 0, 60, 0) == Transition::pending);
  CHECK(a.update(false, 30, 60, 0) == Transition::resolved);
  CHECK(a.update(true, 45, 60, 0) == Transition::pending);
  CHECK_FALSE(a.update(true, 90, 60, 0));  // 45 s since it became pending again, not 90
  CHECK(a.update(true, 105, 60, 0) == Transition::firing);
}

TEST_CASE("for: 0 fires at once; keep_firing_for holds a firing alert through a pause", "[detect]") {
  Alert a;
  CHECK(a.update(true, 0, 0, 120) == Transition::firing);
  CHECK_FALSE(a.update(false, 60, 0, 120));
  CHECK_FALSE(a.update(true, 90, 0, 120));    // the condition is back: the clock restarts
  CHECK_FALSE(a.update(false, 200, 0, 120));  // 110 s without it
  CHECK(a.update(false, 215, 0, 120) == Transition::resolved);
}

TEST_CASE("reset resolves an active alert and is silent on an inactive one", "[detect]") {
  Alert a;
  CHECK_FALSE(a.reset());
  a.update(true, 0, 60, 0);
  CHECK(a.reset() == Transition::resolved);
  CHECK(a.state() == AlertState::inactive);
  CHECK_FALSE(a.reset());
}
