// Least squares, Mann–Kendall, the normal tail and predict_linear()-style extrapolation.
//
// Decisions:
// - least_squares() centres t on the first sample (exact for nearby doubles, Sterbenz) and then runs the
//   two-pass formula on the centred values: unix-epoch t squared would keep only ~0 significant digits of
//   a 15 s spacing. Prometheus centres on the evaluation time instead; the fitted line is the same.
// - mann_kendall() counts ties by sorting a copy of the values: O(n log n) next to the O(n^2) for s.

#include "least_squares_impl.hpp"

#include "leakwatch/stats/trend.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace leakwatch::stats {

std::optional<LinearFit> least_squares(std::span<const Sample> samples) {
  return detail::least_squares_impl(samples.size(), [&](std::size_t i) { return samples[i]; });
}

MannKendall mann_kendall_from(double s, std::size_t n, double tie_term) noexcept {
  MannKendall mk;
  mk.s = s;
  mk.n = n;
  if (n < 3) return mk;
  const double nn = static_cast<double>(n);
  mk.variance = (nn * (nn - 1) * (2 * nn + 5) - tie_term) / 18;
  if (!(mk.variance > 0)) {
    mk.variance = 0;
    return mk;
  }
  const double sd = std::sqrt(mk.variance);
  mk.z = s > 0 ? (s - 1) / sd : s < 0 ? (s + 1) / sd : 0;
  mk.p_increasing = normal_sf(mk.z);
  mk.p_two_sided = std::min(1.0, 2 * normal_sf(std::fabs(mk.z)));
  return mk;
}

MannKendall mann_kendall(std::span<const Sample> samples) {
  const std::size_t n = samples.size();
  std::int64_t s = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const double vi = samples[i].v;
    for (std::size_t j = i + 1; j < n; ++j) {
      const double vj = samples[j].v;
      s += (vj > vi) - (vj < vi);
    }
  }
  std::vector<double> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = samples[i].v;
  std::sort(values.begin(), values.end());
  double tie_term = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i + 1;
    while (j < n && values[j] == values[i]) ++j;
    const double g = static_cast<double>(j - i);
    tie_term += g * (g - 1) * (2 * g + 5);
    i = j;
  }
  return mann_kendall_from(static_cast<double>(s), n, tie_term);
}

double normal_sf(double z) noexcept { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

double binomial_sf(std::uint64_t k, std::uint64_t n, double q) noexcept {
  if (k == 0) return 1;
  if (k > n) return 0;
  const double nd = static_cast<double>(n);
  if (n > 2000) {
    const double mean = nd * q;
    const double sd = std::sqrt(nd * q * (1 - q));
    return normal_sf((static_cast<double>(k) - 0.5 - mean) / sd);
  }
  const double lq = std::log(q);
  const double lp = std::log1p(-q);
  const double lfact_n = std::lgamma(nd + 1);
  double sum = 0;
  for (std::uint64_t j = k; j <= n; ++j) {
    const double jd = static_cast<double>(j);
    const double term = lfact_n - std::lgamma(jd + 1) - std::lgamma(nd - jd + 1) + jd * lq + (nd - jd) * lp;
    const double t = std::exp(term);
    sum += t;
    if (t < sum * 1e-17 && jd > nd * q) break;  // the rest is below double precision
  }
  return std::min(1.0, sum);
}

std::optional<double> seconds_until(const LinearFit& fit, double t_now, double limit) noexcept {
  const double now = value_at(fit, t_now);
  if (now >= limit) return 0.0;
  if (!(fit.slope > 0)) return std::nullopt;
  return (limit - now) / fit.slope;
}

}  // namespace leakwatch::stats
