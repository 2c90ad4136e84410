#pragma once
// When a target's poll reads debug=2 instead of its job's own format. debug=2 carries what the others lack
// (each goroutine's wait minutes and ID: the evidence that goroutines in I/O, sleep or a syscall stay), but
// the runtime stops the world while it writes it and it grows with the goroutine count, so it replaces the
// ordinary poll only now and then: every `interval`, and sooner (at most every `min_interval`) while the
// detector wants that evidence (TargetDetector::wants_wait_evidence()); never while the last profile held
// more than `max_goroutines`. The daemon's poll loop and `leakwatch replay` both ask this, so a replay reads
// debug=2 where the daemon would have.

#include "leakwatch/common/duration.hpp"

#include <chrono>
#include <cstdint>

namespace leakwatch::detect {

class Debug2Cadence {
 public:
  struct Settings {
    common::Duration interval{0};  // 0: never
    common::Duration min_interval{60'000};
    std::uint64_t max_goroutines = 10'000;
  };

  Debug2Cadence() = default;
  // The first debug=2 is due `interval` after `start_s` (seconds on any clock, as long as it is the one
  // due() and taken() are given).
  Debug2Cadence(const Settings& settings, double start_s)
      : settings_(settings), last_s_(start_s), next_s_(start_s + seconds(settings.interval)) {}

  bool due(double now_s, std::uint64_t last_goroutines, bool wanted) const noexcept {
    if (settings_.interval.count() <= 0 || last_goroutines > settings_.max_goroutines) return false;
    if (now_s >= next_s_) return true;
    return wanted && now_s >= last_s_ + seconds(settings_.min_interval);
  }
  // A debug=2 poll started at now_s.
  void taken(double now_s) noexcept {
    last_s_ = now_s;
    next_s_ = now_s + seconds(settings_.interval);
  }

 private:
  static double seconds(common::Duration d) noexcept { return std::chrono::duration<double>(d).count(); }

  Settings settings_;
  double last_s_ = 0;
  double next_s_ = 0;
};

}  // namespace leakwatch::detect
