#pragma once
// One target's detection state: a series for its total and one per stack signature, each with a sliding
// window and an alert, fed by every successful poll. The daemon's poll loop and `leakwatch replay` call the
// same observe(), so the replay reproduces the daemon's decisions exactly.
//
// Memory is bounded: at most max_tracked_stacks series (plus the total), each window at most max_samples.
// Not thread-safe: a detector belongs to one target's loop and is used from its strand.

#include "leakwatch/detect/alert.hpp"
#include "leakwatch/detect/evaluate.hpp"
#include "leakwatch/detect/options.hpp"
#include "leakwatch/pprof/profile.hpp"
#include "leakwatch/pprof/signature.hpp"
#include "leakwatch/stats/history.hpp"
#include "leakwatch/stats/seed_rule.hpp"
#include "leakwatch/stats/sliding_window.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace leakwatch::detect {

enum class Scope : unsigned char { total, stack };

// An alert state change, at the time of the sample that caused it.
// What a stack group's alert state rests on: the trend statistics, or the runtime's proof that the group's
// goroutines can never run again (the goroutineleak profile).
enum class Evidence : unsigned char { trend, runtime };
std::string_view evidence_name(Evidence e) noexcept;  // "trend", "runtime"

struct Event {
  double t = 0;  // unix seconds of the sample
  Scope scope = Scope::total;
  std::uint64_t signature = 0;  // stack scope only
  std::string function;         // stack scope: the leak site's function; empty for the total
  std::string location;         // stack scope: the leak site's file:line; empty for the total
  Transition state = Transition::pending;
  double slope_per_second = 0;  // Theil–Sen
  double p_value = 1;           // Mann–Kendall, one-sided for growth
  Evidence evidence = Evidence::trend;
};

// What /metrics shows of one series after the last sample.
struct SeriesStatus {
  std::uint64_t signature = 0;
  std::string function;
  std::string location;
  double count = 0;
  double slope_per_second = 0;
  double p_value = 1;
  AlertState state = AlertState::inactive;
  Evidence evidence = Evidence::trend;  // stack scope; the total's is always trend
  std::uint64_t leaked = 0;             // goroutines of the group the last goroutineleak profile reports; stack scope
};

// What a target's detector learned that outlives one process (deploy awareness): the stack signatures whose
// groups were still growing at pace when an instance of the target ended. Handed from a detector to its
// successor: across a restart the detector sees itself, and by the scrape manager from a target that went
// away to a new one of the same workload (the next pod of a Deployment, a target re-added by a reload).
struct Recurrence {
  std::uint32_t instances = 0;  // consecutive instances that ended with the group growing at pace
  double last_end = 0;          // unix seconds at which the last of them ended
};
using Priors = std::unordered_map<std::uint64_t, Recurrence>;

class TargetDetector {
 public:
  explicit TargetDetector(Options options);

  // Feeds one successful poll taken at unix time t (seconds). The profile is classified and merged by
  // signature here. A sample not newer than the previous one is ignored. Returns the alert state changes
  // it caused, total first, then stacks by signature.
  std::vector<Event> observe(double t, pprof::Profile profile);

  // Feeds the target's goroutineleak profile (the runtime's proof), taken at unix time t, after the goroutine
  // profile observed at or before t. Its groups are joined to the tracked stack groups by signature (a
  // leaked group not tracked yet starts a series from the leak profile's frames); a group with at least
  // min_leaked proved goroutines fires now, with evidence runtime. The proof stands until the next one
  // replaces it or a restart clears it. Returns the alert state changes it caused, by signature. A profile of
  // another kind is ignored.
  std::vector<Event> observe_leaked(double t, pprof::Profile leaked);
  // Deploy awareness: what this detector knows now, as if the current instance ended at its last sample
  // (its own priors, updated with the groups growing at pace now); and priors to start from (a new target of
  // a workload whose previous target went away). adopt() replaces the detector's priors.
  Priors priors() const;
  void adopt(Priors priors);

  // What the last goroutineleak profile held, if one has been observed since the start or the last restart.
  std::optional<std::uint64_t> leaked_goroutines() const noexcept { return leaked_total_; }
  std::size_t leaked_groups() const noexcept { return leaked_groups_; }

  const SeriesStatus& total() const noexcept { return total_.status; }
  // The stack series worth exporting, at most max_stack_series: active alerts first, then by growth, then
  // by count.
  std::vector<SeriesStatus> top_stacks() const;
  // Goroutines of the last profile outside `top` (what top_stacks() returned; untracked groups included).
  double other_count(const std::vector<SeriesStatus>& top) const;
  // predict_linear() of the total over the window: seconds until goroutine_limit; nullopt without a limit
  // or when the total is not heading there.
  std::optional<double> seconds_to_limit() const;
  std::size_t tracked_stacks() const noexcept { return stacks_.size(); }
  // Whether a debug=2 profile would help now (the poll loop then asks for one sooner): a leak candidate in
  // I/O, sleep or a syscall without debug=2 evidence that its goroutines stay and none for min_duration, or
  // a pending alert with none since it went pending (debug=2 evidence halves its `for`). A population that
  // stays pending for hours must not cost a stop-the-world dump every minute.
  bool wants_wait_evidence() const;
  std::size_t memory_bytes() const noexcept;
  const Options& options() const noexcept { return options_; }

 private:
  // Per-series state is kept small: a target has up to max_tracked_stacks of them (detect_bench measures
  // bytes per series).
  struct Series {
    explicit Series(const Options& o);
    stats::SlidingWindow window;
    Alert alert;
    SeriesStatus status;
  };
  struct Stack : Series {
    explicit Stack(const Options& o);
    pprof::WaitClass wait_class = pprof::WaitClass::unknown;
    bool candidate = false;  // the last evaluate()'s verdict
    // pace()'s point estimate: the last quarter's growth at least pace_ratio of the first's, on at least
    // pace_min_arrivals (what an instance that ends too soon to show pace still says, for its priors).
    bool pace_estimate = false;
    // The last two debug=2 observations of the group's oldest wait (its goroutines' "N minutes"), which
    // debug=1 and debug=0 samples leave as they were: wait_t 0 means none.
    std::uint32_t max_wait_minutes = 0;
    std::uint32_t prev_wait_minutes = 0;
    double wait_t = 0;
    double prev_wait_t = 0;
    // At wait_t: how many of the group's goroutines at the reference mark (see IdMark) were still there
    // (survivors), of survivors_of (the group's count at that mark); 0 of 0 without a mark to count against.
    std::uint32_t survivors = 0;
    std::uint32_t survivors_of = 0;
    std::uint32_t absent = 0;  // consecutive profiles without this group
    double peak = 0;           // the largest count since the series started (evaluate()'s `peak`)
    stats::History history;    // its whole life, coarsely (pace()); steps of min_duration / 5 at first
    double pace_since = -1;    // since when pace() has held without a break; -1: it does not hold
    bool proved() const noexcept { return status.leaked > 0; }  // set only at or above min_leaked
  };

  void restart(double t, std::vector<Event>& events);
  const Recurrence* recurrence(std::uint64_t signature) const;
  void update_stacks(double t, const pprof::Profile& profile);
  Stack& track(const pprof::StackGroup& g);  // a new series for group g (the caller ensures room)
  void evaluate_all(double t, std::vector<Event>& events);
  bool paced(const Stack& s, double t) const;
  bool stuck(const Stack& s) const;
  bool survived(const Stack& s) const;
  std::optional<double> churn(const Stack& s) const;  // for evaluate(): goroutines beyond those that stay
  void observe_survival(Stack& s, const pprof::StackGroup& g, double t) const;
  void mark_ids(double t, std::uint64_t max_id);
  bool may_leak(const Stack& s) const;
  void emit(const Series& s, Scope scope, Transition tr, double t, std::vector<Event>& events) const;

  Options options_;
  pprof::ClassifyOptions classify_;
  Series total_;
  Verdict total_verdict_;
  std::unordered_map<std::uint64_t, Stack> stacks_;
  std::optional<stats::SeedRule> seed_;
  double start_ = 0;  // first sample, or the last restart
  bool started_ = false;
  double last_t_ = 0;
  double last_total_ = -1;
  double spacing_ = 0;            // the usual time between samples (a moving average that gaps do not enter)
  Priors priors_;                 // from earlier instances (at most max_tracked_stacks)
  double last_groups_total_ = 0;  // goroutines in the last profile's groups
  std::optional<std::uint64_t> leaked_total_;  // the last goroutineleak profile's total
  std::size_t leaked_groups_ = 0;              // ... and its groups, merged by signature
  // The highest goroutine ID of debug=2 profiles over the window, oldest first, kept at least window/16
  // apart: a goroutine whose ID is at or below a mark's was there at that mark's time (survived()).
  struct IdMark {
    double t = 0;
    std::uint64_t max_id = 0;
  };
  static constexpr std::size_t kIdMarks = 16;
  // observe_survival(): goroutines blocked longer than this were already there this long ago (a bound of
  // pprof::kWaitMinuteBounds, so the wait histogram can count them).
  static constexpr std::uint32_t kLastingMinutes = 15;
  std::array<IdMark, kIdMarks> id_marks_{};
  std::size_t id_marks_n_ = 0;
};

}  // namespace leakwatch::detect
