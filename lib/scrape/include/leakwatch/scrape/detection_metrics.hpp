#pragma once
// Detection's metrics: per target the total's growth, p-value, alert state and time to the goroutine
// limit, and per exported stack group (labels function, location, signature) its count, growth, p-value
// and alert state. A target exports at most max_stack_series groups plus one `(other)` series; a group
// that leaves the exported set loses its series at once, so cardinality stays bounded.

#include "leakwatch/detect/detector.hpp"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/labels.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <unordered_map>

namespace leakwatch::scrape {

struct DetectionMetrics {
  explicit DetectionMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Gauge>& growth;
  prometheus::Family<prometheus::Gauge>& p_value;
  prometheus::Family<prometheus::Gauge>& alert_state;
  prometheus::Family<prometheus::Gauge>& limit_eta;
  prometheus::Family<prometheus::Gauge>& stack_goroutines;
  prometheus::Family<prometheus::Gauge>& stack_growth;
  prometheus::Family<prometheus::Gauge>& stack_p_value;
  prometheus::Family<prometheus::Gauge>& stack_alert_state;
  prometheus::Family<prometheus::Gauge>& tracked_stacks;
};

// The detection series of one target; removed from the registry when destroyed.
class DetectionSeries {
 public:
  DetectionSeries(DetectionMetrics& metrics, prometheus::Labels labels);
  ~DetectionSeries();
  DetectionSeries(const DetectionSeries&) = delete;
  DetectionSeries& operator=(const DetectionSeries&) = delete;

  // Mirrors the detector's state after a sample.
  void update(const detect::TargetDetector& detector);

 private:
  struct Stack {
    prometheus::Gauge* count = nullptr;
    prometheus::Gauge* growth = nullptr;
    prometheus::Gauge* p_value = nullptr;
    prometheus::Gauge* state = nullptr;
  };
  Stack add_stack(const prometheus::Labels& labels, bool counts_only);
  void remove_stack(const Stack& s);

  DetectionMetrics& metrics_;
  prometheus::Labels labels_;
  prometheus::Gauge* growth_ = nullptr;  // created with the first sample, like leakwatch_goroutines
  prometheus::Gauge* p_value_ = nullptr;
  prometheus::Gauge* state_ = nullptr;
  prometheus::Gauge* tracked_ = nullptr;
  prometheus::Gauge* limit_eta_ = nullptr;  // present only while a limit is projected
  Stack other_;
  std::unordered_map<std::uint64_t, Stack> stacks_;  // by signature: the exported groups
};

}  // namespace leakwatch::scrape
