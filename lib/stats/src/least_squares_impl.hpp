#pragma once
// Internal: least squares over any indexable sequence of samples (a span, or SlidingWindow's ring buffer
// without copying it out).

#include "leakwatch/stats/trend.hpp"

#include <cstddef>
#include <optional>

namespace leakwatch::stats::detail {

// get(i) returns the i-th Sample, 0 <= i < n.
template <class Get>
std::optional<LinearFit> least_squares_impl(std::size_t n, Get get) {
  if (n < 2) return std::nullopt;
  const double t0 = get(0).t;
  double sum_x = 0;
  double sum_v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Sample s = get(i);
    sum_x += s.t - t0;
    sum_v += s.v;
  }
  const double count = static_cast<double>(n);
  const double mean_x = sum_x / count;
  const double mean_v = sum_v / count;
  double sxx = 0;
  double sxv = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Sample s = get(i);
    const double dx = (s.t - t0) - mean_x;
    sxx += dx * dx;
    sxv += dx * (s.v - mean_v);
  }
  if (!(sxx > 0)) return std::nullopt;
  LinearFit fit;
  fit.slope = sxv / sxx;
  // The line passes through (t0 + mean_x, mean_v).
  fit.intercept = mean_v - fit.slope * (t0 + mean_x);
  return fit;
}

}  // namespace leakwatch::stats::detail
