#pragma once
// The trend method's per-series decision: is this window of counts a leak candidate? Pure functions over
// one stats::SlidingWindow, so unit tests can feed them synthetic series and the detector calls them on
// real ones.

#include "leakwatch/detect/options.hpp"
#include "leakwatch/stats/history.hpp"
#include "leakwatch/stats/sliding_window.hpp"

#include <optional>
#include <string_view>

namespace leakwatch::detect {

struct Verdict {
  bool candidate = false;
  double slope = 0;    // Theil–Sen, goroutines per second (0 when not computed)
  double p_value = 1;  // Mann–Kendall one-sided p-value for growth
  double scatter = 0;  // stack groups: movement()'s scatter (0 when not computed)
  // Why it is not a candidate (the first test that failed), for logs and tests; empty when it is.
  std::string_view reason;
};

// How a window's counts move at two time scales. The local level is a centred moving average over about
// 2.5 minutes: slow change (a leak whose rate drifts, a load cycle) is part of it; a population that turns
// over within minutes shows up as scatter around it.
struct Movement {
  double scatter = 0;  // 1.4826 * MAD of (value - local level): robust noise, in goroutines
  // scatter / sqrt(level), the level being the latest local level (or the mean, if larger): ~1 for Poisson
  // counts, ~0 for a group that only grows.
  double dispersion = 0;
  // The largest fall of the local level below its running maximum in the window's second half, in
  // goroutines: how far the recent growth turned back.
  double reversal = 0;
};
// All zero for fewer than 5 samples; dispersion 0 for a level below 1.
Movement movement(const stats::SlidingWindow& window);

// The tests every series passes to be a candidate, in the order they are tried (cheapest first):
// 1. at least min_samples samples spanning min_duration;
// 2. Mann–Kendall p <= p_value;
// 3. a positive Theil–Sen slope rising at least min_increase over the window;
// 4. no saturation: the last third's least-squares slope is at least saturation_ratio of the whole.
// A stack group (`stack`) must also look stuck rather than load-driven (movement()):
// 5. its goroutines do not turn over: dispersion <= max_dispersion;
// 6. its level did not turn back lately: reversal <= max(2, 1.5 * scatter);
// 7. it is at its highest: its last value is within max(2, 3 * scatter) of `peak`, the largest count the
//    series has had since it started (a population recovering from a dip, e.g. connections after the
//    nightly low, climbs back toward a level it has had before; a leak keeps setting new highs).
// `churn`: set when debug=2 showed that most of the group's goroutines of half a window ago are still
// there (TargetDetector::survived()), to how many of its goroutines are not among those. The growth is then
// not the scatter of a population that comes and goes, so 5 is skipped; and whatever shares the stack and
// does come and go may move the level by up to `churn` without failing 6 and 7 (the goroutines that stay
// cannot make it turn back).
Verdict evaluate(const stats::SlidingWindow& window, const Options& options, bool stack,
                 std::optional<double> peak = std::nullopt, std::optional<double> churn = std::nullopt);

// Whether a growing group's arrivals keep pace over its life (Options::pace_ratio). Its life runs from its
// first sample + min_duration to its last sample; a1 is its growth in the first quarter (counts from
// `history`), a4 in the last (the last count from the window). If the later rate were at most pace_ratio
// r of the earlier one, a4 of the n = a1 + a4 arrivals would be at most Binomial(n, q), q = r / (1 + r);
// it keeps pace when n >= pace_min_arrivals and that is rejected at p_value, both by the exact binomial
// tail and by a normal one whose variance also holds the scatter of goroutines that come and go
// (n q (1 - q) + 2 scatter^2: they blur the counts at each quarter's ends).
struct Pace {
  bool keeps_pace = false;
  double earlier = 0;       // a1: growth in the first quarter of its life, goroutines
  double later = 0;         // a4: growth in the last quarter
  double p = 1;             // the larger of the two tails
  std::string_view reason;  // why not, when it does not
};
Pace pace(const stats::History& history, const stats::SlidingWindow& window, double scatter, const Options& options);

}  // namespace leakwatch::detect
