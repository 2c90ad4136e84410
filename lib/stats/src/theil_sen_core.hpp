#pragma once
// Internal: the exact Theil–Sen selection shared by theil_sen_slope() and SlidingWindow's incremental
// Theil–Sen. Not installed; lib/stats/src only.

#include <cstddef>
#include <vector>

namespace leakwatch::stats::detail {

// The slope of one pair, i before j. Every caller computes a pair's slope with this one expression, so
// the fast paths and the brute force see bit-identical quotients and agree exactly.
inline double pair_slope(double ti, double vi, double tj, double vj) noexcept { return (vj - vi) / (tj - ti); }

// The pair slopes of a series split around [lo, hi]: `below` pairs have a slope < lo, `above` a slope
// > hi, and `mid` holds every slope in [lo, hi] (unsorted). lo may be -inf and hi +inf.
struct SlopeBracket {
  double lo = 0;
  double hi = 0;
  std::size_t below = 0;
  std::size_t above = 0;
  std::vector<double> mid;
};

// True when bracket_slopes() may run on these samples: n >= 2, every t and v finite, t strictly
// increasing, and magnitudes within the range where its guard band is provably sufficient (|v| and |lo|
// either 0 or in [1e-100, 1e100], adjacent time steps in [1e-100, 1e100]). Series outside that range take
// the direct computation instead.
bool fast_path_ok(const double* t, const double* v, std::size_t n) noexcept;

// A bracket around the pair-slope ranks [a, b] (0-based, ascending; a <= b < n(n-1)/2): on return
// below <= a and b < below + mid.size(). Requires fast_path_ok(t, v, n). Deterministic for given input.
SlopeBracket bracket_slopes(const double* t, const double* v, std::size_t n, std::size_t a, std::size_t b);

}  // namespace leakwatch::stats::detail
