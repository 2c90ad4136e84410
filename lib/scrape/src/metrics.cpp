#include "leakwatch/scrape/metrics.hpp"

#include <string>

namespace leakwatch::scrape {
namespace {

prometheus::Family<prometheus::Gauge>& gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

prometheus::Labels with(prometheus::Labels labels, const char* key, std::string_view value) {
  labels.emplace(key, std::string(value));
  return labels;
}

}  // namespace

ScrapeMetrics::ScrapeMetrics(prometheus::Registry& r)
    : goroutines(gauge(r, "leakwatch_goroutines", "Goroutines in the target's last successful profile.")),
      stack_groups(gauge(r, "leakwatch_stack_groups",
                         "Distinct stack groups in the target's last successful profile.")),
      leaked_goroutines(gauge(r, "leakwatch_leaked_goroutines",
                              "Goroutines the target's goroutineleak profile reports as leaked: blocked on "
                              "primitives the Go runtime proved no running goroutine can reach.")),
      leaked_stack_groups(gauge(r, "leakwatch_leaked_stack_groups",
                                "Distinct stack groups in the target's last successful goroutineleak profile.")),
      scrape_success(gauge(r, "leakwatch_scrape_success", "Whether the target's last poll succeeded (1) or not (0).")),
      scrape_duration(gauge(r, "leakwatch_scrape_duration_seconds",
                            "Duration of the target's last poll: connect, request, body and parse.")),
      response_bytes(gauge(r, "leakwatch_scrape_response_bytes",
                           "Size of the target's last successful profile body after decompression.")),
      last_success_time(gauge(r, "leakwatch_scrape_last_success_timestamp_seconds",
                              "Unix time of the target's last successful poll.")),
      scrapes(prometheus::BuildCounter()
                  .Name("leakwatch_scrapes_total")
                  .Help("Polls of the target's profile endpoint, by result.")
                  .Register(r)),
      targets(gauge(r, "leakwatch_targets", "Targets polled, by service.")) {}

TargetSeries::TargetSeries(ScrapeMetrics& metrics, prometheus::Labels labels, pprof::ProfileKind kind)
    : metrics_(metrics),
      labels_(std::move(labels)),
      goroutines_family_(kind == pprof::ProfileKind::goroutineleak ? metrics_.leaked_goroutines
                                                                   : metrics_.goroutines),
      groups_family_(kind == pprof::ProfileKind::goroutineleak ? metrics_.leaked_stack_groups
                                                               : metrics_.stack_groups),
      success_(metrics_.scrape_success.Add(labels_)),
      duration_(metrics_.scrape_duration.Add(labels_)) {
  // Every result starts at 0, so rate() and increase() work from the first failure on.
  for (std::size_t i = 0; i < kAllOutcomes.size(); ++i) {
    scrapes_[i] = &metrics_.scrapes.Add(with(labels_, "result", outcome_name(kAllOutcomes[i])));
  }
}

TargetSeries::~TargetSeries() {
  metrics_.scrape_success.Remove(&success_);
  metrics_.scrape_duration.Remove(&duration_);
  for (auto* c : scrapes_) metrics_.scrapes.Remove(c);
  if (goroutines_) goroutines_family_.Remove(goroutines_);
  if (groups_) groups_family_.Remove(groups_);
  if (response_bytes_) metrics_.response_bytes.Remove(response_bytes_);
  if (last_success_) metrics_.last_success_time.Remove(last_success_);
}

void TargetSeries::record_failure(Outcome outcome, double duration_seconds) {
  success_.Set(0);
  duration_.Set(duration_seconds);
  scrapes_[static_cast<std::size_t>(outcome)]->Increment();
}

void TargetSeries::record_success(double duration_seconds, std::uint64_t body_bytes, std::uint64_t goroutines,
                                  std::uint64_t groups, double unix_seconds) {
  if (!goroutines_) {
    goroutines_ = &goroutines_family_.Add(labels_);
    groups_ = &groups_family_.Add(labels_);
    response_bytes_ = &metrics_.response_bytes.Add(labels_);
    last_success_ = &metrics_.last_success_time.Add(labels_);
  }
  success_.Set(1);
  duration_.Set(duration_seconds);
  scrapes_[static_cast<std::size_t>(Outcome::success)]->Increment();
  goroutines_->Set(static_cast<double>(goroutines));
  groups_->Set(static_cast<double>(groups));
  response_bytes_->Set(static_cast<double>(body_bytes));
  last_success_->Set(unix_seconds);
}

}  // namespace leakwatch::scrape
