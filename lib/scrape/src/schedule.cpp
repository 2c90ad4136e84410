#include "leakwatch/scrape/schedule.hpp"

#include "leakwatch/common/hash.hpp"

namespace leakwatch::scrape {

common::Duration schedule_offset(std::string_view key, common::Duration interval) {
  if (interval.count() <= 0) return common::Duration{0};
  const auto n = static_cast<std::uint64_t>(interval.count());
  return common::Duration{static_cast<common::Duration::rep>(common::stable_hash(key) % n)};
}

SteadyTime first_tick(SteadyTime steady_now, WallTime wall_now, common::Duration interval, common::Duration offset) {
  if (interval.count() <= 0) return steady_now;
  const auto wall_ms = std::chrono::duration_cast<common::Duration>(wall_now.time_since_epoch()).count();
  const auto period = interval.count();
  const auto phase = ((wall_ms % period) + period) % period;  // where in the interval we are now
  const auto wait = ((offset.count() - phase) % period + period) % period;
  return steady_now + common::Duration{wait};
}

SteadyTime next_tick(SteadyTime previous, common::Duration interval, SteadyTime now) {
  if (interval.count() <= 0) return now;
  SteadyTime next = previous + interval;
  if (next > now) return next;
  const auto behind = now - previous;
  const auto periods = behind / interval + 1;  // whole intervals to skip, landing strictly after now
  return previous + periods * interval;
}

}  // namespace leakwatch::scrape
