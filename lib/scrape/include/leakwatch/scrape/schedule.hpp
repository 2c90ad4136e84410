#pragma once
// When a target is polled. Pure functions of their inputs, so tests need no clock.
//
// As in Prometheus (scrape/target.go, offset): each target gets a stable offset inside its interval from a
// hash of its identity, pinned to wall-clock time. Polls of many targets spread evenly over the interval, and
// a restarted daemon polls each target at the same phase as before. After the first poll, ticks stay on the
// grid first + k * interval: the next poll is computed from the schedule, never from when the last one ended,
// so the schedule does not drift.

#include "leakwatch/common/clock.hpp"
#include "leakwatch/common/duration.hpp"

#include <chrono>
#include <string_view>

namespace leakwatch::scrape {

using common::SteadyTime;
using common::WallTime;

// Offset in [0, interval) for the target identified by `key` (e.g. "job/host:port").
common::Duration schedule_offset(std::string_view key, common::Duration interval);

// The first poll: the earliest instant at or after `steady_now` whose wall-clock time modulo the interval
// equals the offset.
SteadyTime first_tick(SteadyTime steady_now, WallTime wall_now, common::Duration interval, common::Duration offset);

// The next poll after one scheduled at `previous` and finished at `now`: the first point of the grid
// previous + k * interval (k >= 1) strictly after `now`. A poll that overran skips the ticks it missed.
SteadyTime next_tick(SteadyTime previous, common::Duration interval, SteadyTime now);

}  // namespace leakwatch::scrape
