#include "leakwatch/detect/evaluate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace leakwatch::detect {
namespace {

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// Half the moving average's span: long enough to average out a population that turns over within a few
// minutes, short enough that a slowly changing level stays level.
constexpr double kLocalHalfSpanSeconds = 75;

double median_in_place(std::vector<double>& xs) {
  const auto mid = xs.begin() + static_cast<std::ptrdiff_t>(xs.size() / 2);
  std::nth_element(xs.begin(), mid, xs.end());
  return *mid;
}

}  // namespace

Movement movement(const stats::SlidingWindow& window) {
  Movement m;
  const std::size_t n = window.size();
  if (n < 5) return m;
  const double spacing = (window.back().t - window.front().t) / static_cast<double>(n - 1);
  const std::size_t k =
      std::clamp<std::size_t>(spacing > 0 ? static_cast<std::size_t>(std::lround(kLocalHalfSpanSeconds / spacing)) : 2,
                              2, (n - 1) / 2);
  std::vector<double> v(n);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = window[i].v;
    sum += v[i];
  }
  const double mean = sum / static_cast<double>(n);

  std::vector<double> residual;
  residual.reserve(n - 2 * k);
  const auto width = static_cast<double>(2 * k + 1);
  double run = 0;
  for (std::size_t i = 0; i < 2 * k + 1; ++i) run += v[i];
  std::vector<double> levels;
  levels.reserve(n - 2 * k);
  for (std::size_t i = k; i + k < n; ++i) {
    levels.push_back(run / width);
    residual.push_back(v[i] - levels.back());
    if (i + k + 1 < n) run += v[i + k + 1] - v[i - k];
  }
  // Reversals count in the window's second half only: the growth a leak alert is about must not have turned
  // back lately, while what happened before it began (a dip, a pool shrinking) says nothing about it.
  const auto from = levels.begin() + static_cast<std::ptrdiff_t>(levels.size() / 2);
  double peak = *from;
  for (auto it = from; it != levels.end(); ++it) {
    peak = std::max(peak, *it);
    m.reversal = std::max(m.reversal, peak - *it);
  }
  const double centre = median_in_place(residual);
  for (double& x : residual) x = std::abs(x - centre);
  m.scatter = 1.4826 * median_in_place(residual);
  // Relative to the current level, not the window's mean: a leak that began in the window has a small mean
  // but is as many goroutines as it is now, and its scatter is that of the few that still come and go.
  const double now = std::max(levels.back(), mean);
  m.dispersion = now >= 1 ? m.scatter / std::sqrt(now) : 0;
  return m;
}

Verdict evaluate(const stats::SlidingWindow& window, const Options& options, bool stack, std::optional<double> peak,
                 std::optional<double> churn) {
  Verdict v;
  if (window.size() < std::max<std::size_t>(options.min_samples, 3)) {
    v.reason = "too few samples";
    return v;
  }
  const double covered = window.back().t - window.front().t;
  if (covered < seconds(options.min_duration)) {
    v.reason = "window too short";
    return v;
  }
  const stats::MannKendall mk = window.mann_kendall();
  v.p_value = mk.p_increasing;
  if (mk.p_increasing > options.p_value) {
    v.reason = "no significant growth";
    return v;
  }
  const auto slope = window.theil_sen();
  v.slope = slope.value_or(0);
  if (v.slope <= 0 || v.slope * covered < options.min_increase) {
    v.reason = "growth too small";
    return v;
  }
  const auto recent = window.least_squares_since(window.back().t - covered / 3);
  if (!recent || recent->slope < options.saturation_ratio * v.slope) {
    v.reason = "saturating";
    return v;
  }
  if (stack) {
    const Movement m = movement(window);
    v.scatter = m.scatter;
    if (m.dispersion > options.max_dispersion && !churn) {
      v.reason = "goroutines come and go";
      return v;
    }
    // A leak sharing its stack with a few short-lived goroutines wobbles by about their scatter (never
    // less than two goroutines): its smoothed level by less, a single value by up to three times as much.
    const double moves = churn.value_or(0);
    if (m.reversal > std::max({2.0, 1.5 * m.scatter, moves})) {
      v.reason = "level turned back";
      return v;
    }
    if (peak && window.back().v + std::max({2.0, 3 * m.scatter, moves}) < *peak) {
      v.reason = "below an earlier peak";
      return v;
    }
  }
  v.candidate = true;
  return v;
}

Pace pace(const stats::History& history, const stats::SlidingWindow& window, double scatter, const Options& options) {
  Pace p;
  if (history.empty() || window.empty()) {
    p.reason = "no history";
    return p;
  }
  const double settle = seconds(options.min_duration);
  const double base_t = history.first_t() + settle;
  // The count now, smoothed as the history's checkpoints are: the mean time and value of the last step's
  // samples (so the end of the life is where that mean is, not the last sample).
  const std::size_t from = window.index_since(window.back().t - history.step_seconds());
  const std::size_t k_now = window.size() - from;
  double sum_t = 0, sum_v = 0;
  for (std::size_t i = from; i < window.size(); ++i) {
    sum_t += window[i].t;
    sum_v += window[i].v;
  }
  const double now_t = sum_t / static_cast<double>(k_now);
  const double now_v = sum_v / static_cast<double>(k_now);
  const double span = now_t - base_t;
  const auto base = history.value_at(base_t);
  const auto q1 = history.value_at(base_t + span / 4);
  const auto q3 = history.value_at(base_t + 3 * span / 4);
  if (span < settle || !base || !q1 || !q3) {
    p.reason = "life too short to compare";
    return p;
  }
  p.earlier = std::max(0.0, *q1 - *base);
  p.later = now_v - *q3;
  const double n = p.earlier + p.later;
  if (p.later <= 0 || n < options.pace_min_arrivals) {
    p.reason = "too few arrivals to compare";
    return p;
  }
  const double q = options.pace_ratio / (1 + options.pace_ratio);
  // Each count at a cut is a mean of k samples: the scatter blurs it by scatter / sqrt(k).
  const double k = std::max(1.0, std::min(history.samples_per_checkpoint(), static_cast<double>(k_now)));
  const double z = (p.later - n * q) / std::sqrt(n * q * (1 - q) + 2 * scatter * scatter / k);
  p.p = std::max(stats::binomial_sf(static_cast<std::uint64_t>(std::lround(p.later)),
                                    static_cast<std::uint64_t>(std::lround(n)), q),
                 stats::normal_sf(z));
  if (p.p > options.p_value) {
    p.reason = "arrivals not shown to keep pace";
    return p;
  }
  p.keeps_pace = true;
  return p;
}

}  // namespace leakwatch::detect
