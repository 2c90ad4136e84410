#pragma once
// The growth-rate rule of the seed article, implemented for comparison only: it is NOT leakwatch's
// method. Kept here so `leakwatch` evaluations and benchmarks can put it side by side with the
// Mann–Kendall/Theil–Sen detector on the same series.
//
// Every `step` seconds a sample of the total (the samples' own t are used; the rule does not resample);
// the slope k = least squares over the last `points` samples (default 12 samples at 5 s = a 60 s window),
// in units per second; baseline = median of the slopes of the past windows (at most `history` of them);
// the window is "hot" when k > factor * baseline, and the rule fires after `consecutive` hot windows in a
// row, or at once when k > absolute_cap (goroutines/s).
//
// Details the article leaves open, decided here:
// - Windows slide by one sample: each push() once `points` samples exist ends one window. Its slope is
//   judged against the baseline of the windows before it, then joins the history.
// - A non-positive baseline (a flat or shrinking history) makes the relative test meaningless: with
//   baseline <= 0, "k > factor * baseline" would call any growth, however small, hot. Such a window is not
//   hot by the relative test (the absolute cap still applies), and the hot streak resets.
// - Until `min_history` past slopes exist only the absolute cap applies.
// - The rule is firing while the hot streak is at least `consecutive` long, or while k > absolute_cap.

#include "leakwatch/stats/trend.hpp"

#include <cstddef>
#include <deque>

namespace leakwatch::stats {

struct SeedRuleOptions {
  std::size_t points = 12;
  std::size_t history = 720;
  std::size_t min_history = 12;
  double factor = 1.8;
  std::size_t consecutive = 3;
  double absolute_cap = 5.0;
};

class SeedRule {
 public:
  explicit SeedRule(SeedRuleOptions options = {});

  // Feeds one sample; returns whether the rule is firing after it. A sample with t <= the previous one's
  // (or non-finite) is ignored and the current state returned.
  bool push(Sample s);
  void reset();

  // NaN until the first full window.
  double last_slope() const noexcept { return last_slope_; }
  // The median of the past windows' slopes the last window was judged against; NaN while there is none.
  double baseline() const noexcept { return baseline_; }
  // The current run of hot windows.
  std::size_t hot_streak() const noexcept { return hot_streak_; }
  bool firing() const noexcept { return firing_; }
  const SeedRuleOptions& options() const noexcept { return options_; }

 private:
  SeedRuleOptions options_;
  std::deque<Sample> recent_;   // the last `points` samples
  std::deque<double> history_;  // past windows' slopes, oldest first
  double last_slope_;
  double baseline_;
  std::size_t hot_streak_ = 0;
  bool firing_ = false;
};

}  // namespace leakwatch::stats
