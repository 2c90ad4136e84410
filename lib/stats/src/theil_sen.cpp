// Exact Theil–Sen in a fraction of the time of a full selection over all n(n-1)/2 pair slopes.
//
// Decisions (the header documents the contract, these are the whys):
// - A random sample of pair slopes gives two pivots lo/hi that bracket the median rank with a margin of
//   several standard deviations of the sample quantile. One pass over all pairs then counts the pairs
//   below lo and above hi without dividing ((v_j - v_i) < lo * (t_j - t_i), valid as t_j > t_i) and keeps
//   the few slopes in between; the median is selected among those. If the median rank is not among them
//   the margin widens, and the last attempt uses lo = -inf, hi = +inf, which is the full computation.
// - The comparison by multiplication must never disagree with the quotient the brute force computes. The
//   pivots are therefore pushed outward by 8 ulps (lo2 = lo - 8 eps |lo|): a pair counted below lo2 has a
//   real quotient more than ~5 eps |lo| under lo, so its rounded quotient is strictly < lo; pairs in the
//   guard band are kept and classified by their real quotient. fast_path_ok() keeps every product and
//   quotient in the normal range, where those relative error bounds hold; other input goes direct.
// - The PRNG is seeded from n and the target ranks, so a series always gets the same pivots and the same
//   cost: no run-to-run jitter in benchmarks, and no dependence on global state.

#include "theil_sen_core.hpp"

#include "leakwatch/stats/trend.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace leakwatch::stats {
namespace detail {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon() / 2;  // unit roundoff, 2^-53
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kTiny = 1e-100;
constexpr double kHuge = 1e100;
// Sample size for the pivots: 512 slopes pin the median's rank to about +-2% of the pairs.
constexpr std::size_t kPivotSample = 512;
// Below this many pairs the sampling costs more than it saves.
constexpr std::size_t kDirectPairs = 800;

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool in_range_or_zero(double x) noexcept {
  const double a = std::fabs(x);
  return x == 0 || (a >= kTiny && a <= kHuge);
}

// Moves a pivot outward (lo down, hi up) into the range the guard band is proven for. Widening a bracket
// never makes it wrong, only less selective.
double clamp_lo(double lo) noexcept {
  if (lo == -kInf || lo == 0) return lo;
  if (lo > kHuge) return kHuge;
  if (lo < -kHuge) return -kInf;
  if (lo > 0 && lo < kTiny) return 0;
  if (lo < 0 && lo > -kTiny) return -kTiny;
  return lo;
}
double clamp_hi(double hi) noexcept { return -clamp_lo(-hi); }

// One pass over all pairs. Each pair is counted below, counted above, or its quotient is kept. The inner
// loop has no data-dependent branch: every j is written to `columns` and the cursor advances only for a kept
// pair (an unpredictable branch per pair would cost more than the whole comparison).
void partition_pairs(const double* t, const double* v, std::size_t n, SlopeBracket& out) {
  const double lo2 = out.lo - 8 * kEps * std::fabs(out.lo);
  const double hi2 = out.hi + 8 * kEps * std::fabs(out.hi);
  std::size_t below = 0;
  std::size_t above = 0;
  out.mid.clear();
  // A sampled bracket keeps about a seventh of the pairs; growing the vector would copy it several times.
  out.mid.reserve(std::isinf(out.lo) && std::isinf(out.hi) ? n * (n - 1) / 2 : n * (n - 1) / 10);
  std::vector<std::uint32_t> columns(n);
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const double ti = t[i];
    const double vi = v[i];
    std::size_t count = 0;
    for (std::size_t j = i + 1; j < n; ++j) {
      const double dt = t[j] - ti;
      const double dv = v[j] - vi;
      const bool is_below = dv < lo2 * dt;
      const bool is_above = dv > hi2 * dt;
      below += is_below;
      above += is_above;
      columns[count] = static_cast<std::uint32_t>(j);
      count += !(is_below | is_above);
    }
    for (std::size_t k = 0; k < count; ++k) out.mid.push_back(pair_slope(ti, vi, t[columns[k]], v[columns[k]]));
  }
  // Guard-band pairs were kept; classify them by their quotient.
  auto& mid = out.mid;
  std::size_t kept = 0;
  for (double s : mid) {
    if (s < out.lo) {
      ++below;
    } else if (s > out.hi) {
      ++above;
    } else {
      mid[kept++] = s;
    }
  }
  mid.resize(kept);
  out.below = below;
  out.above = above;
}

}  // namespace

bool fast_path_ok(const double* t, const double* v, std::size_t n) noexcept {
  if (n < 2) return false;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(t[i]) || !in_range_or_zero(v[i]) || std::fabs(t[i]) > kHuge) return false;
  }
  for (std::size_t i = 1; i < n; ++i) {
    const double dt = t[i] - t[i - 1];
    if (!(dt >= kTiny)) return false;  // also rejects unsorted and equal times
  }
  return t[n - 1] - t[0] <= kHuge;
}

SlopeBracket bracket_slopes(const double* t, const double* v, std::size_t n, std::size_t a, std::size_t b) {
  const std::size_t pairs = n * (n - 1) / 2;
  SlopeBracket out;
  if (pairs > kDirectPairs) {
    std::uint64_t state = 0x6c65616b77617463ull ^ (n * 0x100000001b3ull) ^ (a << 20) ^ b;
    std::vector<double> sample(kPivotSample);
    for (double& s : sample) {
      const auto i = static_cast<std::size_t>(splitmix64(state) % n);
      auto j = static_cast<std::size_t>(splitmix64(state) % (n - 1));
      if (j >= i) ++j;
      s = i < j ? pair_slope(t[i], v[i], t[j], v[j]) : pair_slope(t[j], v[j], t[i], v[i]);
    }
    const double m = static_cast<double>(kPivotSample);
    const double fa = static_cast<double>(a) / static_cast<double>(pairs);
    const double fb = static_cast<double>(b + 1) / static_cast<double>(pairs);
    for (double z : {3.0, 6.0}) {
      // Standard deviation of a sample quantile's position, at most sqrt(m / 4).
      const double margin = z * std::sqrt(m / 4) + 1;
      const double lo_pos = std::floor(fa * m - margin);
      const double hi_pos = std::ceil(fb * m + margin);
      out.lo = -kInf;
      out.hi = kInf;
      if (lo_pos >= 0) {
        const auto k = static_cast<std::size_t>(lo_pos);
        std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(k), sample.end());
        out.lo = clamp_lo(sample[k]);
      }
      if (hi_pos < m) {
        const auto k = static_cast<std::size_t>(hi_pos);
        std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(k), sample.end());
        out.hi = clamp_hi(sample[k]);
      }
      partition_pairs(t, v, n, out);
      if (out.below <= a && b < out.below + out.mid.size()) return out;
    }
  }
  out.lo = -kInf;
  out.hi = kInf;
  partition_pairs(t, v, n, out);  // everything lands in mid: the full computation
  return out;
}

}  // namespace detail

namespace {

// The median of all pair slopes, for input the fast path does not take: any order, equal times skipped.
std::optional<double> theil_sen_direct(std::span<const Sample> samples) {
  std::vector<double> slopes;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    for (std::size_t j = i + 1; j < samples.size(); ++j) {
      const Sample& p = samples[i];
      const Sample& q = samples[j];
      if (p.t == q.t) continue;
      slopes.push_back(p.t < q.t ? detail::pair_slope(p.t, p.v, q.t, q.v) : detail::pair_slope(q.t, q.v, p.t, p.v));
    }
  }
  if (slopes.empty()) return std::nullopt;
  const std::size_t k2 = slopes.size() / 2;
  std::nth_element(slopes.begin(), slopes.begin() + static_cast<std::ptrdiff_t>(k2), slopes.end());
  const double upper = slopes[k2];
  if (slopes.size() % 2 == 1) return upper;
  const double lower = *std::max_element(slopes.begin(), slopes.begin() + static_cast<std::ptrdiff_t>(k2));
  return std::midpoint(lower, upper);
}

}  // namespace

std::optional<double> theil_sen_slope(std::span<const Sample> samples) {
  const std::size_t n = samples.size();
  if (n < 2) return std::nullopt;
  for (const Sample& s : samples) {
    if (!std::isfinite(s.t) || !std::isfinite(s.v)) return std::nullopt;
  }
  std::vector<double> t(n);
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    t[i] = samples[i].t;
    v[i] = samples[i].v;
  }
  if (!detail::fast_path_ok(t.data(), v.data(), n)) return theil_sen_direct(samples);
  const std::size_t pairs = n * (n - 1) / 2;
  const std::size_t k1 = (pairs - 1) / 2;
  const std::size_t k2 = pairs / 2;
  auto bracket = detail::bracket_slopes(t.data(), v.data(), n, k1, k2);
  auto& mid = bracket.mid;
  const auto pos2 = static_cast<std::ptrdiff_t>(k2 - bracket.below);
  std::nth_element(mid.begin(), mid.begin() + pos2, mid.end());
  const double upper = mid[static_cast<std::size_t>(pos2)];
  if (k1 == k2) return upper;
  // k1 = k2 - 1 >= below, so pos2 >= 1: the lower middle is the largest element before position pos2.
  const double lower = *std::max_element(mid.begin(), mid.begin() + pos2);
  return std::midpoint(lower, upper);
}

}  // namespace leakwatch::stats
