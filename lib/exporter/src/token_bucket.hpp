#pragma once
// The web config's rate_limit as Go's rate.Limiter reads it (exporter-toolkit uses that): one token per
// `interval`, at most `burst` saved up, starting full; a request takes a token or is refused. Internal to
// lib/exporter; time is passed in, so tests need no clock.

#include <algorithm>
#include <chrono>

namespace leakwatch::exporter {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // Re-applies the settings (the web config may change); a change refills the bucket.
  void configure(Clock::duration interval, int burst, Clock::time_point now) {
    if (interval == interval_ && burst == burst_) return;
    interval_ = interval;
    burst_ = burst;
    tokens_ = burst;
    last_ = now;
  }

  bool enabled() const { return interval_.count() > 0; }

  bool allow(Clock::time_point now) {
    if (!enabled()) return true;
    if (burst_ <= 0) return false;
    const double earned = std::chrono::duration<double>(now - last_) / std::chrono::duration<double>(interval_);
    tokens_ = std::min<double>(burst_, tokens_ + std::max(0.0, earned));
    last_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  Clock::duration interval_{0};
  int burst_ = 0;
  double tokens_ = 0;
  Clock::time_point last_{};
};

}  // namespace leakwatch::exporter
