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
#include "leakwatch/stats/seed_rule.hpp"
#include "leakwatch/stats/sliding_window.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace leakwatch::detect {

enum class Scope : unsigned char { total, stack };

// An alert state change, at the time of the sample that caused it.
struct Event {
  double t = 0;  // unix seconds of the sample
  Scope scope = Scope::total;
  std::uint64_t signature = 0;  // stack scope only
  std::string function;         // stack scope: the leak site's function; empty for the total
  std::string location;         // stack scope: the leak site's file:line; empty for the total
  Transition state = Transition::pending;
  double slope_per_second = 0;  // Theil–Sen
  double p_value = 1;           // Mann–Kendall, one-sided for growth
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
};

class TargetDetector {
 public:
  explicit TargetDetector(Options options);

  // Feeds one successful poll taken at unix time t (seconds). The profile is classified and merged by
  // signature here. A sample not newer than the previous one is ignored. Returns the alert state changes
  // it caused, total first, then stacks by signature.
  std::vector<Event> observe(double t, pprof::Profile profile);

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
  std::size_t memory_bytes() const noexcept;
  const Options& options() const noexcept { return options_; }

 private:
  struct Series {
    explicit Series(const Options& o);
    stats::SlidingWindow window;
    Alert alert;
    Verdict verdict;
    SeriesStatus status;
  };
  struct Stack : Series {
    using Series::Series;
    pprof::WaitClass wait_class = pprof::WaitClass::unknown;
    std::uint32_t max_wait_minutes = 0;
    bool has_wait_data = false;
    std::size_t absent = 0;  // consecutive profiles without this group
    double peak = 0;         // the largest count since the series started (evaluate()'s `peak`)
  };

  void restart(double t, std::vector<Event>& events);
  void update_stacks(double t, const pprof::Profile& profile);
  void evaluate_all(double t, std::vector<Event>& events);
  void emit(const Series& s, Scope scope, Transition tr, double t, std::vector<Event>& events) const;

  Options options_;
  pprof::ClassifyOptions classify_;
  Series total_;
  std::unordered_map<std::uint64_t, Stack> stacks_;
  std::optional<stats::SeedRule> seed_;
  double start_ = 0;  // first sample, or the last restart
  bool started_ = false;
  double last_t_ = 0;
  double last_total_ = -1;
  double last_groups_total_ = 0;  // goroutines in the last profile's groups
};

}  // namespace leakwatch::detect
