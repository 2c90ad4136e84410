#include "leakwatch/scrape/detection_metrics.hpp"

#include "leakwatch/pprof/signature.hpp"

#include <string>
#include <unordered_set>

namespace leakwatch::scrape {
namespace {

prometheus::Family<prometheus::Gauge>& gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

constexpr const char* kOther = "(other)";

}  // namespace

DetectionMetrics::DetectionMetrics(prometheus::Registry& r)
    : growth(gauge(r, "leakwatch_goroutines_growth_per_second",
                   "Robust (Theil-Sen) growth of the target's goroutine count over the detection window, in "
                   "goroutines per second.")),
      p_value(gauge(r, "leakwatch_goroutines_trend_p_value",
                    "Mann-Kendall p-value that the target's goroutine count is not growing (small = significant "
                    "growth).")),
      alert_state(gauge(r, "leakwatch_goroutines_alert_state",
                        "Leak alert state of the target's total: 0 inactive, 1 pending, 2 firing.")),
      limit_eta(gauge(r, "leakwatch_goroutines_limit_eta_seconds",
                      "Seconds until the goroutine count reaches the configured goroutine_limit at the window's "
                      "least-squares trend (as predict_linear); absent when not growing toward it.")),
      stack_goroutines(gauge(r, "leakwatch_stack_goroutines",
                             "Goroutines in an exported stack group, by leak site; function=\"(other)\" sums the "
                             "groups not exported.")),
      stack_growth(gauge(r, "leakwatch_stack_growth_per_second",
                         "Robust (Theil-Sen) growth of a stack group's goroutine count, in goroutines per second.")),
      stack_p_value(gauge(r, "leakwatch_stack_trend_p_value",
                          "Mann-Kendall p-value that the stack group's count is not growing.")),
      stack_alert_state(gauge(r, "leakwatch_stack_alert_state",
                              "Leak alert state of a stack group: 0 inactive, 1 pending, 2 firing.")),
      tracked_stacks(gauge(r, "leakwatch_stacks_tracked",
                           "Stack groups of the target with detection statistics (at most max_tracked_stacks).")) {}

DetectionSeries::DetectionSeries(DetectionMetrics& metrics, prometheus::Labels labels)
    : metrics_(metrics), labels_(std::move(labels)) {}

DetectionSeries::~DetectionSeries() {
  if (growth_ != nullptr) {
    metrics_.growth.Remove(growth_);
    metrics_.p_value.Remove(p_value_);
    metrics_.alert_state.Remove(state_);
    metrics_.tracked_stacks.Remove(tracked_);
    remove_stack(other_);
  }
  if (limit_eta_ != nullptr) metrics_.limit_eta.Remove(limit_eta_);
  for (const auto& [sig, s] : stacks_) remove_stack(s);
}

DetectionSeries::Stack DetectionSeries::add_stack(const prometheus::Labels& labels, bool counts_only) {
  Stack s;
  s.count = &metrics_.stack_goroutines.Add(labels);
  if (counts_only) return s;
  s.growth = &metrics_.stack_growth.Add(labels);
  s.p_value = &metrics_.stack_p_value.Add(labels);
  s.state = &metrics_.stack_alert_state.Add(labels);
  return s;
}

void DetectionSeries::remove_stack(const Stack& s) {
  if (s.count != nullptr) metrics_.stack_goroutines.Remove(s.count);
  if (s.growth != nullptr) metrics_.stack_growth.Remove(s.growth);
  if (s.p_value != nullptr) metrics_.stack_p_value.Remove(s.p_value);
  if (s.state != nullptr) metrics_.stack_alert_state.Remove(s.state);
}

void DetectionSeries::update(const detect::TargetDetector& detector) {
  if (growth_ == nullptr) {
    growth_ = &metrics_.growth.Add(labels_);
    p_value_ = &metrics_.p_value.Add(labels_);
    state_ = &metrics_.alert_state.Add(labels_);
    tracked_ = &metrics_.tracked_stacks.Add(labels_);
    prometheus::Labels other = labels_;
    other.emplace("function", kOther);
    other.emplace("location", kOther);
    other.emplace("signature", kOther);
    other_ = add_stack(other, /*counts_only=*/true);
  }
  const detect::SeriesStatus& total = detector.total();
  growth_->Set(total.slope_per_second);
  p_value_->Set(total.p_value);
  state_->Set(static_cast<double>(total.state));
  tracked_->Set(static_cast<double>(detector.tracked_stacks()));

  if (const auto eta = detector.seconds_to_limit()) {
    if (limit_eta_ == nullptr) limit_eta_ = &metrics_.limit_eta.Add(labels_);
    limit_eta_->Set(*eta);
  } else if (limit_eta_ != nullptr) {
    metrics_.limit_eta.Remove(limit_eta_);
    limit_eta_ = nullptr;
  }

  // One ranking per poll, for the exported groups and the (other) sum alike.
  const std::vector<detect::SeriesStatus> top = detector.top_stacks();
  other_.count->Set(detector.other_count(top));
  std::unordered_set<std::uint64_t> keep;
  for (const auto& s : top) keep.insert(s.signature);
  for (auto it = stacks_.begin(); it != stacks_.end();) {
    if (keep.count(it->first) == 0) {
      remove_stack(it->second);
      it = stacks_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& s : top) {
    auto it = stacks_.find(s.signature);
    if (it == stacks_.end()) {
      prometheus::Labels l = labels_;
      l.emplace("function", s.function.empty() ? std::string(pprof::kUnknownFunction) : s.function);
      l.emplace("location", s.location);
      l.emplace("signature", pprof::signature_hex(s.signature));
      it = stacks_.emplace(s.signature, add_stack(l, /*counts_only=*/false)).first;
    }
    it->second.count->Set(s.count);
    it->second.growth->Set(s.slope_per_second);
    it->second.p_value->Set(s.p_value);
    it->second.state->Set(static_cast<double>(s.state));
  }
}

}  // namespace leakwatch::scrape
