#pragma once
// The scrape path's metrics: families built once against a registry passed in (no globals), and per-target
// series handles that a target's loop keeps, so the hot path touches no map. A target's series are removed
// from the registry when its handles are destroyed, so a target that goes away leaves nothing behind.

#include "leakwatch/pprof/profile.hpp"
#include "leakwatch/scrape/fetch.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/labels.h>
#include <prometheus/registry.h>

#include <array>
#include <cstdint>

namespace leakwatch::scrape {

struct ScrapeMetrics {
  explicit ScrapeMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Gauge>& goroutines;
  prometheus::Family<prometheus::Gauge>& stack_groups;
  // The same figures for jobs polling the goroutineleak profile: they count only goroutines the runtime
  // proved leaked, so they get their own names rather than a label that sum() would mix up.
  prometheus::Family<prometheus::Gauge>& leaked_goroutines;
  prometheus::Family<prometheus::Gauge>& leaked_stack_groups;
  prometheus::Family<prometheus::Gauge>& scrape_success;
  prometheus::Family<prometheus::Gauge>& scrape_duration;
  prometheus::Family<prometheus::Gauge>& response_bytes;
  prometheus::Family<prometheus::Gauge>& last_success_time;
  prometheus::Family<prometheus::Counter>& scrapes;
  prometheus::Family<prometheus::Gauge>& targets;
};

// The series of one target. Labels are service, target and the target's static labels; `kind` picks
// leakwatch_goroutines or leakwatch_leaked_goroutines (and the stack-group gauge to match).
class TargetSeries {
 public:
  TargetSeries(ScrapeMetrics& metrics, prometheus::Labels labels, pprof::ProfileKind kind);
  ~TargetSeries();
  TargetSeries(const TargetSeries&) = delete;
  TargetSeries& operator=(const TargetSeries&) = delete;

  // Records one poll: its outcome and duration; on success also the profile's figures.
  void record_failure(Outcome outcome, double duration_seconds);
  void record_success(double duration_seconds, std::uint64_t body_bytes, std::uint64_t goroutines,
                      std::uint64_t groups, double unix_seconds);

 private:
  ScrapeMetrics& metrics_;
  prometheus::Labels labels_;
  prometheus::Family<prometheus::Gauge>& goroutines_family_;
  prometheus::Family<prometheus::Gauge>& groups_family_;
  prometheus::Gauge& success_;
  prometheus::Gauge& duration_;
  std::array<prometheus::Counter*, kAllOutcomes.size()> scrapes_{};
  // Created at the first successful poll: before it there is no count to report, and 0 would be a lie.
  prometheus::Gauge* goroutines_ = nullptr;
  prometheus::Gauge* groups_ = nullptr;
  prometheus::Gauge* response_bytes_ = nullptr;
  prometheus::Gauge* last_success_ = nullptr;
};

}  // namespace leakwatch::scrape
