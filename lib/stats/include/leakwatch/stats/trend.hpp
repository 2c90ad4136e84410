#pragma once
// Trend statistics over (time, value) samples: least squares (Prometheus deriv()/predict_linear()),
// Theil–Sen slope, the Mann–Kendall trend test and the normal tail they need. Pure functions: no I/O, no
// state, nothing but the standard library, so detection can run them on any sub-window it likes.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace leakwatch::stats {

// t: seconds (any origin, strictly increasing within a window), v: value.
struct Sample {
  double t = 0;
  double v = 0;
};

// v ≈ intercept + slope * t.
struct LinearFit {
  double slope = 0;
  double intercept = 0;
};

// The fitted line's value at t. With epoch-sized t this is a difference of two large numbers; its
// absolute error stays near 1e-16 * |slope * t|, far below one goroutine for any plausible slope.
inline double value_at(const LinearFit& fit, double t) noexcept { return fit.intercept + fit.slope * t; }

// Least squares of v against t, exactly what Prometheus' deriv() computes (slope in units per second) and
// what predict_linear() extrapolates with. t is centred on the first sample before anything is squared,
// so unix-epoch seconds lose no precision. nullopt with fewer than 2 samples or zero variance in t.
std::optional<LinearFit> least_squares(std::span<const Sample> samples);

// Theil–Sen slope: the median of (v_j - v_i)/(t_j - t_i) over all pairs i<j, the mean of the two middle
// values when the number of pairs is even. Exact: the result equals a brute-force median of those
// quotients as computed in double. t must be strictly increasing (a pair with equal t has no slope; such
// pairs are left out, and unsorted input is handled by the slower direct computation). nullopt with fewer
// than 2 samples, with no pair of distinct t, or when any t or v is not finite.
std::optional<double> theil_sen_slope(std::span<const Sample> samples);

// Mann–Kendall trend test on v in time order. s = sum over i<j of sign(v_j - v_i); variance with the tie
// correction: (n(n-1)(2n+5) - sum over tie groups of t(t-1)(2t+5)) / 18; z with the continuity correction
// ((s-1)/sqrt(var) for s>0, (s+1)/sqrt(var) for s<0, 0 for s=0); p_increasing = one-sided p-value for an
// upward trend = 1 - Phi(z); p_two_sided = 2*(1 - Phi(|z|)). With n < 3 or var == 0: s as computed,
// z = 0, p-values 1. Values are compared exactly (no tolerance): equal doubles are a tie.
struct MannKendall {
  double s = 0;
  double variance = 0;
  double z = 0;
  double p_increasing = 1;
  double p_two_sided = 1;
  std::size_t n = 0;
};
MannKendall mann_kendall(std::span<const Sample> samples);

// The test's statistics from s, n and the tie term sum t(t-1)(2t+5); what mann_kendall() and
// SlidingWindow's incremental version both finish with.
MannKendall mann_kendall_from(double s, std::size_t n, double tie_term) noexcept;

// Upper tail of the standard normal, 1 - Phi(z), accurate in the far tail too (erfc, not 1 - cdf).
double normal_sf(double z) noexcept;
// Upper tail of the binomial, P(X >= k) for X ~ Binomial(n, q), 0 < q < 1: exact (summed in log space) up to
// n = 2000, the normal approximation with continuity correction beyond.
double binomial_sf(std::uint64_t k, std::uint64_t n, double q) noexcept;

// Seconds from t_now until the fitted line reaches `limit`, as predict_linear() would extrapolate (the line's
// value at t_now, not the last sample). 0 if the line is already at or above the limit at t_now; nullopt if
// slope <= 0 and the line is below the limit (never).
std::optional<double> seconds_until(const LinearFit& fit, double t_now, double limit) noexcept;

}  // namespace leakwatch::stats
