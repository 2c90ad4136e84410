#pragma once
// The series every target exports, rendered at scrape time.
//
// Why not one prometheus::Family entry per series: Family::Remove is linear in the family's size, so a
// reload, a discovery update or a shutdown that removes N targets one by one costs O(N^2) while holding the
// family's mutex that every /metrics scrape waits for (10,000 targets took more than 25 minutes to shut down).
// Here each target owns one TargetSeries holding its values under its own small mutex; a SeriesSet lists the
// live ones, and removing a target is one hash-map erase. /metrics walks the set and writes the text format
// directly, family by family.
//
// Everything in a label value that came from a target or from discovery (function names, file paths, pod
// labels) goes through common::valid_utf8 here, at the metrics boundary: Prometheus rejects a whole scrape
// over one invalid label value.

#include "leakwatch/common/fetcher.hpp"
#include "leakwatch/detect/detector.hpp"
#include "leakwatch/pprof/profile.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace leakwatch::scrape {

using LabelMap = std::map<std::string, std::string>;

// One target's series. Made by SeriesSet::add; destroying it removes the series. Thread-safe.
class TargetSeries {
 public:
  ~TargetSeries();
  TargetSeries(const TargetSeries&) = delete;
  TargetSeries& operator=(const TargetSeries&) = delete;

  // One poll: its outcome and duration; on success also the profile's figures.
  void record_failure(common::Outcome outcome, double duration_seconds);
  void record_success(double duration_seconds, std::uint64_t body_bytes, std::uint64_t goroutines, std::uint64_t groups,
                      double unix_seconds);
  // What one fetch cost, by profile kind and format (leakwatch_profile_fetch_*_total): every fetch, whatever
  // its outcome; `body_bytes` after decompression.
  void record_fetch_cost(pprof::ProfileKind kind, pprof::Format format, double seconds, std::uint64_t body_bytes);
  // One poll of the runtime's proof beside a goroutine job: `offered` false when the target answered 404 (it
  // has no goroutineleak profile), counted as result not_offered unless `failed` says the 404 is an error
  // (poll: always); on success, what the proof held. The per-group proof reaches the series through
  // record_detection().
  void record_leak_proof(common::Outcome outcome, bool offered, bool failed, const detect::TargetDetector& detector);
  // Mirrors the detector's state after a sample: the total's statistics, and the exported stack groups (at
  // most max_stack_series, plus one `(other)` series summing the rest; a group that leaves the exported
  // set loses its series at once, so cardinality stays bounded).
  void record_detection(const detect::TargetDetector& detector);

 private:
  friend class SeriesSet;
  struct Registry;

  struct Stack {
    std::uint64_t signature = 0;
    detect::Evidence evidence = detect::Evidence::trend;
    std::string labels;  // rendered: the target's labels, then function, location, signature, evidence
    double count = 0, growth = 0, p_value = 1, state = 0, leaked = 0;
  };
  // The proof's results: the poll outcomes, then "not_offered".
  static constexpr std::size_t kLeakResults = common::kAllOutcomes.size() + 1;
  // Fetch costs by (kind, format).
  static constexpr std::size_t kCostSlots = pprof::kProfileKinds.size() * pprof::kFormats.size();
  struct Cost {
    std::uint64_t fetches = 0, bytes = 0;
    double seconds = 0;
  };

  TargetSeries(std::shared_ptr<Registry> registry, std::uint64_t id, const LabelMap& labels, pprof::ProfileKind kind);
  // Appends this target's lines of family `family` (an index into the family table) to `out`.
  void write(std::size_t family, std::string& out) const;

  std::shared_ptr<Registry> registry_;  // owned: the destructor unregisters from it
  std::uint64_t id_;
  pprof::ProfileKind kind_;
  std::string labels_;  // rendered label pairs, e.g. service="api",target="10.0.0.1:6060"
  std::array<std::string, common::kAllOutcomes.size()> result_labels_;

  mutable std::mutex mutex_;
  double success_ = 0, duration_ = 0;
  std::array<std::uint64_t, common::kAllOutcomes.size()> scrapes_{};
  // Present from the first successful poll: before it there is no count to report, and 0 would be a lie.
  bool has_profile_ = false;
  double goroutines_ = 0, groups_ = 0, response_bytes_ = 0, last_success_ = 0;
  // Present from the first sample detection saw.
  bool has_detection_ = false;
  double growth_ = 0, p_value_ = 1, alert_state_ = 0, tracked_ = 0, other_count_ = 0;
  std::optional<double> limit_eta_;  // present only while a limit is projected
  // The runtime's proof: present from its first poll.
  bool has_leak_proof_ = false, has_leaked_ = false;
  double leak_offered_ = 0, leaked_ = 0, leaked_groups_ = 0;
  std::array<std::uint64_t, kLeakResults> leak_scrapes_{};
  std::array<std::string, kLeakResults> leak_result_labels_;
  std::array<Cost, kCostSlots> costs_{};
  std::array<std::string, kCostSlots> cost_labels_;
  std::string other_labels_;
  std::vector<Stack> stacks_;
};

// The live targets' series, and their exposition. Thread-safe.
class SeriesSet {
 public:
  SeriesSet();
  ~SeriesSet();

  // A new target's series; `labels` are service, target and the target's static labels.
  std::shared_ptr<TargetSeries> add(const LabelMap& labels, pprof::ProfileKind kind);

  // Appends the text exposition of every live target (HELP and TYPE for every family, also when empty).
  void write(std::string& out) const;

  std::size_t size() const;

 private:
  std::shared_ptr<TargetSeries::Registry> registry_;
};

}  // namespace leakwatch::scrape
