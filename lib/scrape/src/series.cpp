#include "leakwatch/scrape/series.hpp"

#include "leakwatch/common/utf8.hpp"
#include "leakwatch/pprof/signature.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace leakwatch::scrape {
namespace {

enum Family : std::size_t {
  kGoroutines,
  kStackGroups,
  kLeakedGoroutines,
  kLeakedStackGroups,
  kScrapeSuccess,
  kScrapeDuration,
  kResponseBytes,
  kLastSuccess,
  kScrapes,
  kGrowth,
  kPValue,
  kAlertState,
  kLimitEta,
  kStackGoroutines,
  kStackGrowth,
  kStackPValue,
  kStackAlertState,
  kTrackedStacks,
  kStackLeaked,
  kLeakProofOffered,
  kLeakProofScrapes,
  kProfileFetches,
  kProfileFetchSeconds,
  kProfileFetchBytes,
  kFamilyCount,
};

struct FamilyInfo {
  std::string_view name;
  std::string_view type;
  std::string_view help;
};

constexpr std::array<FamilyInfo, kFamilyCount> kFamilies{{
    {"leakwatch_goroutines", "gauge", "Goroutines in the target's last successful profile."},
    {"leakwatch_stack_groups", "gauge", "Distinct stack groups in the target's last successful profile."},
    // The goroutineleak profile's figures count only goroutines the runtime proved leaked, so they get their
    // own names rather than a label that sum() would mix up.
    {"leakwatch_leaked_goroutines", "gauge",
     "Goroutines the target's goroutineleak profile reports as leaked: blocked on primitives the Go runtime "
     "proved no running goroutine can reach."},
    {"leakwatch_leaked_stack_groups", "gauge",
     "Distinct stack groups in the target's last successful goroutineleak profile."},
    {"leakwatch_scrape_success", "gauge", "Whether the target's last poll succeeded (1) or not (0)."},
    {"leakwatch_scrape_duration_seconds", "gauge",
     "Duration of the target's last poll: connect, request, body and parse."},
    {"leakwatch_scrape_response_bytes", "gauge",
     "Size of the target's last successful profile body after decompression."},
    {"leakwatch_scrape_last_success_timestamp_seconds", "gauge", "Unix time of the target's last successful poll."},
    {"leakwatch_scrapes_total", "counter", "Polls of the target's profile endpoint, by result."},
    {"leakwatch_goroutines_growth_per_second", "gauge",
     "Robust (Theil-Sen) growth of the target's goroutine count over the detection window, in goroutines per "
     "second."},
    {"leakwatch_goroutines_trend_p_value", "gauge",
     "Mann-Kendall p-value that the target's goroutine count is not growing (small = significant growth)."},
    {"leakwatch_goroutines_alert_state", "gauge",
     "Leak alert state of the target's total: 0 inactive, 1 pending, 2 firing."},
    {"leakwatch_goroutines_limit_eta_seconds", "gauge",
     "Seconds until the goroutine count reaches the configured goroutine_limit at the window's least-squares "
     "trend (as predict_linear); absent when not growing toward it."},
    {"leakwatch_stack_goroutines", "gauge",
     "Goroutines in an exported stack group, by leak site; function=\"(other)\" sums the groups not exported."},
    {"leakwatch_stack_growth_per_second", "gauge",
     "Robust (Theil-Sen) growth of a stack group's goroutine count, in goroutines per second."},
    {"leakwatch_stack_trend_p_value", "gauge", "Mann-Kendall p-value that the stack group's count is not growing."},
    {"leakwatch_stack_alert_state", "gauge", "Leak alert state of a stack group: 0 inactive, 1 pending, 2 firing."},
    {"leakwatch_stacks_tracked", "gauge",
     "Stack groups of the target with detection statistics (at most max_tracked_stacks)."},
    {"leakwatch_stack_leaked_goroutines", "gauge",
     "Goroutines of an exported stack group that the target's last goroutineleak profile proved leaked; "
     "present only for such groups."},
    {"leakwatch_goroutineleak_offered", "gauge",
     "Whether the target serves the goroutineleak profile polled beside its goroutine job (1) or answered 404 "
     "(0)."},
    {"leakwatch_goroutineleak_scrapes_total", "counter",
     "Polls of the goroutineleak profile beside a goroutine job, by result (not_offered: 404); a result appears "
     "when it first occurs."},
    {"leakwatch_profile_fetches_total", "counter", "Profile fetches from the target, by profile kind and format."},
    {"leakwatch_profile_fetch_seconds_total", "counter",
     "Seconds spent fetching profiles from the target (the fetch alone, not the parse), by profile kind and format."},
    {"leakwatch_profile_fetch_bytes_total", "counter",
     "Profile bytes read from the target after decompression, by profile kind and format."},
}};

constexpr std::string_view kNotOffered = "not_offered";

std::size_t cost_slot(pprof::ProfileKind kind, pprof::Format format) {
  return static_cast<std::size_t>(kind) * pprof::kFormats.size() + static_cast<std::size_t>(format);
}

constexpr std::string_view kOther = "(other)";

// A label value in the text format: valid UTF-8, with \ " and newline escaped.
void append_label_value(std::string& out, std::string_view raw) {
  const std::string value = common::valid_utf8(raw);
  for (const char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

void append_label(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out += ',';
  out += name;
  out += "=\"";
  append_label_value(out, value);
  out += '"';
}

// Shortest text that reads back as the same double, as the text format spells special values.
void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, ec == std::errc() ? end : buf);
  }
}

void append_sample(std::string& out, std::size_t family, std::string_view labels, double value) {
  out += kFamilies[family].name;
  out += '{';
  out += labels;
  out += "} ";
  append_value(out, value);
  out += '\n';
}

}  // namespace

// The live targets by id. Shared by the set and every TargetSeries, so whichever goes last frees it.
struct TargetSeries::Registry {
  mutable std::mutex mutex;
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<const TargetSeries>> targets;
};

TargetSeries::TargetSeries(std::shared_ptr<Registry> registry, std::uint64_t id, const LabelMap& labels,
                           pprof::ProfileKind kind)
    : registry_(std::move(registry)), id_(id), kind_(kind) {
  for (const auto& [name, value] : labels) append_label(labels_, name, value);
  for (std::size_t i = 0; i < common::kAllOutcomes.size(); ++i) {
    result_labels_[i] = labels_;
    append_label(result_labels_[i], "result", common::outcome_name(common::kAllOutcomes[i]));
  }
  for (std::size_t i = 0; i < kLeakResults; ++i) {
    leak_result_labels_[i] = labels_;
    append_label(leak_result_labels_[i], "result",
                 i < common::kAllOutcomes.size() ? common::outcome_name(common::kAllOutcomes[i]) : kNotOffered);
  }
  for (const auto& k : pprof::kProfileKinds) {
    for (const auto& f : pprof::kFormats) {
      std::string& l = cost_labels_[cost_slot(k.kind, f.format)];
      l = labels_;
      append_label(l, "profile", k.name);
      append_label(l, "format", f.name);
    }
  }
  other_labels_ = labels_;
  append_label(other_labels_, "function", kOther);
  append_label(other_labels_, "location", kOther);
  append_label(other_labels_, "signature", kOther);
}

TargetSeries::~TargetSeries() {
  std::lock_guard lock(registry_->mutex);
  registry_->targets.erase(id_);
}

void TargetSeries::record_failure(common::Outcome outcome, double duration_seconds) {
  std::lock_guard lock(mutex_);
  success_ = 0;
  duration_ = duration_seconds;
  ++scrapes_[static_cast<std::size_t>(outcome)];
}

void TargetSeries::record_success(double duration_seconds, std::uint64_t body_bytes, std::uint64_t goroutines,
                                  std::uint64_t groups, double unix_seconds) {
  std::lock_guard lock(mutex_);
  success_ = 1;
  duration_ = duration_seconds;
  ++scrapes_[static_cast<std::size_t>(common::Outcome::success)];
  has_profile_ = true;
  goroutines_ = static_cast<double>(goroutines);
  groups_ = static_cast<double>(groups);
  response_bytes_ = static_cast<double>(body_bytes);
  last_success_ = unix_seconds;
}

void TargetSeries::record_fetch_cost(pprof::ProfileKind kind, pprof::Format format, double seconds,
                                     std::uint64_t body_bytes) {
  std::lock_guard lock(mutex_);
  Cost& c = costs_[cost_slot(kind, format)];
  ++c.fetches;
  c.seconds += seconds;
  c.bytes += body_bytes;
}

void TargetSeries::record_leak_proof(common::Outcome outcome, bool offered, bool failed,
                                     const detect::TargetDetector& detector) {
  const auto leaked = detector.leaked_goroutines();
  std::lock_guard lock(mutex_);
  has_leak_proof_ = true;
  leak_offered_ = offered ? 1 : 0;
  ++leak_scrapes_[offered || failed ? static_cast<std::size_t>(outcome) : common::kAllOutcomes.size()];
  has_leaked_ = leaked.has_value();
  leaked_ = static_cast<double>(leaked.value_or(0));
  leaked_groups_ = static_cast<double>(detector.leaked_groups());
}

void TargetSeries::record_detection(const detect::TargetDetector& detector) {
  // One ranking per poll, for the exported groups and the (other) sum alike; computed before taking the lock.
  const std::vector<detect::SeriesStatus> top = detector.top_stacks();
  const double other = detector.other_count(top);
  const detect::SeriesStatus& total = detector.total();
  const auto eta = detector.seconds_to_limit();

  std::lock_guard lock(mutex_);
  has_detection_ = true;
  growth_ = total.slope_per_second;
  p_value_ = total.p_value;
  alert_state_ = static_cast<double>(total.state);
  tracked_ = static_cast<double>(detector.tracked_stacks());
  limit_eta_ = eta;
  other_count_ = other;

  // Groups that stay exported keep their rendered labels; the rest are dropped, new ones rendered once.
  std::vector<Stack> next;
  next.reserve(top.size());
  for (const auto& s : top) {
    auto old = std::find_if(stacks_.begin(), stacks_.end(), [&](const Stack& x) { return x.signature == s.signature; });
    Stack st;
    if (old != stacks_.end() && old->evidence == s.evidence) {
      st.labels = std::move(old->labels);
    } else {
      st.labels = labels_;
      append_label(st.labels, "function", s.function.empty() ? pprof::kUnknownFunction : std::string_view(s.function));
      append_label(st.labels, "location", s.location);
      append_label(st.labels, "signature", pprof::signature_hex(s.signature));
      append_label(st.labels, "evidence", detect::evidence_name(s.evidence));
    }
    st.signature = s.signature;
    st.evidence = s.evidence;
    st.leaked = static_cast<double>(s.leaked);
    st.count = s.count;
    st.growth = s.slope_per_second;
    st.p_value = s.p_value;
    st.state = static_cast<double>(s.state);
    next.push_back(std::move(st));
  }
  stacks_ = std::move(next);
}

void TargetSeries::write(std::size_t family, std::string& out) const {
  std::lock_guard lock(mutex_);
  const bool leak_kind = kind_ == pprof::ProfileKind::goroutineleak;
  switch (static_cast<Family>(family)) {
    case kGoroutines:
      if (has_profile_ && !leak_kind) append_sample(out, family, labels_, goroutines_);
      break;
    case kStackGroups:
      if (has_profile_ && !leak_kind) append_sample(out, family, labels_, groups_);
      break;
    // A goroutineleak job's own figures, or the proof polled beside a goroutine job.
    case kLeakedGoroutines:
      if (has_profile_ && leak_kind) append_sample(out, family, labels_, goroutines_);
      if (has_leaked_ && !leak_kind) append_sample(out, family, labels_, leaked_);
      break;
    case kLeakedStackGroups:
      if (has_profile_ && leak_kind) append_sample(out, family, labels_, groups_);
      if (has_leaked_ && !leak_kind) append_sample(out, family, labels_, leaked_groups_);
      break;
    case kScrapeSuccess: append_sample(out, family, labels_, success_); break;
    case kScrapeDuration: append_sample(out, family, labels_, duration_); break;
    case kResponseBytes:
      if (has_profile_) append_sample(out, family, labels_, response_bytes_);
      break;
    case kLastSuccess:
      if (has_profile_) append_sample(out, family, labels_, last_success_);
      break;
    case kScrapes:
      // Every result from the start, so rate() and increase() work from the first failure on.
      for (std::size_t i = 0; i < scrapes_.size(); ++i) {
        append_sample(out, family, result_labels_[i], static_cast<double>(scrapes_[i]));
      }
      break;
    case kGrowth:
      if (has_detection_) append_sample(out, family, labels_, growth_);
      break;
    case kPValue:
      if (has_detection_) append_sample(out, family, labels_, p_value_);
      break;
    case kAlertState:
      if (has_detection_) append_sample(out, family, labels_, alert_state_);
      break;
    case kLimitEta:
      if (limit_eta_) append_sample(out, family, labels_, *limit_eta_);
      break;
    case kStackGoroutines:
      if (!has_detection_) break;
      for (const auto& s : stacks_) append_sample(out, family, s.labels, s.count);
      append_sample(out, family, other_labels_, other_count_);
      break;
    case kStackGrowth:
      for (const auto& s : stacks_) append_sample(out, family, s.labels, s.growth);
      break;
    case kStackPValue:
      for (const auto& s : stacks_) append_sample(out, family, s.labels, s.p_value);
      break;
    case kStackAlertState:
      for (const auto& s : stacks_) append_sample(out, family, s.labels, s.state);
      break;
    case kTrackedStacks:
      if (has_detection_) append_sample(out, family, labels_, tracked_);
      break;
    case kStackLeaked:
      for (const auto& s : stacks_) {
        if (s.leaked > 0) append_sample(out, family, s.labels, s.leaked);
      }
      break;
    case kLeakProofOffered:
      if (has_leak_proof_) append_sample(out, family, labels_, leak_offered_);
      break;
    // Only the results that occurred: with 10,000 targets, seven series each for a poll every 30 minutes
    // would be 70,000 series mostly at 0 (rate() still works from the second occurrence on).
    case kLeakProofScrapes:
      for (std::size_t i = 0; i < kLeakResults; ++i) {
        if (leak_scrapes_[i] > 0) {
          append_sample(out, family, leak_result_labels_[i], static_cast<double>(leak_scrapes_[i]));
        }
      }
      break;
    // Only the (kind, format) pairs the target was asked for.
    case kProfileFetches:
      for (std::size_t i = 0; i < kCostSlots; ++i) {
        if (costs_[i].fetches > 0) append_sample(out, family, cost_labels_[i], static_cast<double>(costs_[i].fetches));
      }
      break;
    case kProfileFetchSeconds:
      for (std::size_t i = 0; i < kCostSlots; ++i) {
        if (costs_[i].fetches > 0) append_sample(out, family, cost_labels_[i], costs_[i].seconds);
      }
      break;
    case kProfileFetchBytes:
      for (std::size_t i = 0; i < kCostSlots; ++i) {
        if (costs_[i].fetches > 0) append_sample(out, family, cost_labels_[i], static_cast<double>(costs_[i].bytes));
      }
      break;
    case kFamilyCount: break;
  }
}

SeriesSet::SeriesSet() : registry_(std::make_shared<TargetSeries::Registry>()) {}

SeriesSet::~SeriesSet() = default;

std::shared_ptr<TargetSeries> SeriesSet::add(const LabelMap& labels, pprof::ProfileKind kind) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(registry_->mutex);
    id = registry_->next_id++;
  }
  // make_shared cannot reach the private constructor.
  std::shared_ptr<TargetSeries> series(new TargetSeries(registry_, id, labels, kind));
  std::lock_guard lock(registry_->mutex);
  registry_->targets.emplace(id, series);
  return series;
}

std::size_t SeriesSet::size() const {
  std::lock_guard lock(registry_->mutex);
  return registry_->targets.size();
}

void SeriesSet::write(std::string& out) const {
  // Hold the targets only while rendering, not the registry's lock: loops may come and go meanwhile.
  std::vector<std::pair<std::uint64_t, std::shared_ptr<const TargetSeries>>> live;
  {
    std::lock_guard lock(registry_->mutex);
    live.reserve(registry_->targets.size());
    for (const auto& [id, weak] : registry_->targets) {
      if (auto t = weak.lock()) live.emplace_back(id, std::move(t));
    }
  }
  std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t f = 0; f < kFamilyCount; ++f) {
    out += "# HELP ";
    out += kFamilies[f].name;
    out += ' ';
    out += kFamilies[f].help;  // constant text without backslashes or newlines: nothing to escape
    out += "\n# TYPE ";
    out += kFamilies[f].name;
    out += ' ';
    out += kFamilies[f].type;
    out += '\n';
    for (const auto& [id, t] : live) t->write(f, out);
  }
}

}  // namespace leakwatch::scrape
