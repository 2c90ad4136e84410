// SlidingWindow: ring buffer plus incremental Mann–Kendall and Theil–Sen.
//
// Decisions:
// - Mann–Kendall's tie term needs no map of values: when a value joins c equal values already in the
//   window, sum t(t-1)(2t+5) over tie groups grows by f(c+1) - f(c) = 6c(c+2), and shrinks by the same when
//   it leaves c equal values behind. The O(n) comparison loop that updates S counts c as well.
// - The Theil–Sen band keeps 2n ranks either side of the median. One push moves the median by at most n-1
//   ranks relative to the band (n-1 pairs leave, n-1 arrive); on noisy data the new sample's noise moves
//   all its n-1 slopes together, so the walk is fast (about +-100 ranks a push at n = 240), and a wider band
//   would trade memory per series for fewer rebuilds. A flat integer series has its median in one huge
//   tie group (slope 0), which the counted representation keeps in one entry.
// - Below kBandMinSamples the direct computation is cheaper than keeping a band, and the band is dropped.
// - Samples stay doubles: counts would fit a uint32, but times need a double (or an offset that must be
//   rebased), and 16 bytes a sample is 3.8 KiB for a full 1 h window at 15 s; not worth the risk.

#include "leakwatch/stats/sliding_window.hpp"

#include "least_squares_impl.hpp"
#include "theil_sen_core.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

namespace leakwatch::stats {
namespace {

constexpr std::size_t kBandMinSamples = 42;
constexpr std::size_t kInitialCapacity = 16;
// The band keeps the pair slopes within kBandMargin * n ranks of the median.
constexpr std::size_t kBandMargin = 2;
constexpr double kInf = std::numeric_limits<double>::infinity();

struct MedianRanks {
  std::size_t k1;  // lower middle (== k2 for an odd number of pairs)
  std::size_t k2;
};
MedianRanks median_ranks(std::size_t n) noexcept {
  const std::size_t pairs = n * (n - 1) / 2;
  return {(pairs - 1) / 2, pairs / 2};
}

}  // namespace

SlidingWindow::SlidingWindow(double span_seconds, std::size_t max_samples)
    : span_(span_seconds), max_samples_(std::max<std::size_t>(max_samples, 1)) {
  assert(span_seconds > 0);
}

Sample SlidingWindow::front() const {
  assert(size_ > 0);
  return buf_[head_];
}

Sample SlidingWindow::back() const {
  assert(size_ > 0);
  return buf_[slot(size_ - 1)];
}

Sample SlidingWindow::operator[](std::size_t i) const {
  assert(i < size_);
  return buf_[slot(i)];
}

void SlidingWindow::clear() {
  buf_.clear();
  buf_.shrink_to_fit();
  head_ = 0;
  size_ = 0;
  mk_s_ = 0;
  mk_ties_ = 0;
  band_ = SlopeBand{};
}

bool SlidingWindow::push(Sample s) {
  if (!std::isfinite(s.t) || !std::isfinite(s.v)) return false;
  if (size_ > 0 && !(s.t > back().t)) return false;
  while (size_ > 0 && !(front().t > s.t - span_)) drop_front();
  while (size_ >= max_samples_) drop_front();
  append(s);
  if (size_ < kBandMinSamples) {
    if (band_.valid || band_.mid.capacity() > 0) band_ = SlopeBand{};
  } else if (!band_.valid || !band_holds_median() || band_.mid.size() > 2 * band_.rebuilt_size + 2 * size_) {
    rebuild_band();
  }
  return true;
}

void SlidingWindow::drop_front() {
  const Sample old = buf_[head_];
  std::int64_t ds = 0;
  std::int64_t equal = 0;
  for (std::size_t i = 1; i < size_; ++i) {
    const double v = buf_[slot(i)].v;
    ds += (v > old.v) - (v < old.v);
    equal += v == old.v;
  }
  mk_s_ -= ds;
  mk_ties_ -= 6 * equal * (equal + 2);
  if (band_.valid) {
    for (std::size_t i = 1; i < size_; ++i) {
      const Sample x = buf_[slot(i)];
      band_remove(detail::pair_slope(old.t, old.v, x.t, x.v));
    }
  }
  head_ = slot(1);
  if (--size_ == 0) head_ = 0;
}

void SlidingWindow::append(Sample s) {
  std::int64_t ds = 0;
  std::int64_t equal = 0;
  for (std::size_t i = 0; i < size_; ++i) {
    const double v = buf_[slot(i)].v;
    ds += (s.v > v) - (s.v < v);
    equal += s.v == v;
  }
  mk_s_ += ds;
  mk_ties_ += 6 * equal * (equal + 2);
  if (band_.valid) {
    for (std::size_t i = 0; i < size_; ++i) {
      const Sample x = buf_[slot(i)];
      band_add(detail::pair_slope(x.t, x.v, s.t, s.v));
    }
  }
  if (size_ == buf_.size()) {
    // Grow (only ever up to max_samples_) and unwrap the ring at the same time.
    const std::size_t capacity = std::min(max_samples_, std::max(kInitialCapacity, 2 * buf_.size()));
    std::vector<Sample> grown;
    grown.reserve(capacity);
    for (std::size_t i = 0; i < size_; ++i) grown.push_back(buf_[slot(i)]);
    grown.resize(capacity);
    buf_ = std::move(grown);
    head_ = 0;
  }
  buf_[slot(size_)] = s;
  ++size_;
}

void SlidingWindow::band_add(double slope) {
  if (slope < band_.lo) {
    ++band_.below;
  } else if (slope <= band_.hi) {
    auto& mid = band_.mid;
    const auto it = std::lower_bound(mid.begin(), mid.end(), slope,
                                     [](const SlopeCount& c, double s) { return c.slope < s; });
    if (it != mid.end() && it->slope == slope) {
      ++it->count;
    } else {
      mid.insert(it, SlopeCount{slope, 1});
    }
    ++band_.in_band;
  }
}

void SlidingWindow::band_remove(double slope) {
  if (slope < band_.lo) {
    assert(band_.below > 0);
    --band_.below;
  } else if (slope <= band_.hi) {
    auto& mid = band_.mid;
    const auto it = std::lower_bound(mid.begin(), mid.end(), slope,
                                     [](const SlopeCount& c, double s) { return c.slope < s; });
    assert(it != mid.end() && it->slope == slope && it->count > 0);
    if (--it->count == 0) mid.erase(it);
    --band_.in_band;
  }
}

bool SlidingWindow::band_holds_median() const noexcept {
  const auto [k1, k2] = median_ranks(size_);
  return band_.below <= k1 && k2 < band_.below + band_.in_band;
}

double SlidingWindow::band_at(std::size_t rank) const noexcept {
  std::size_t seen = band_.below;
  for (const SlopeCount& c : band_.mid) {
    seen += c.count;
    if (rank < seen) return c.slope;
  }
  assert(false && "rank outside the band");
  return band_.mid.back().slope;
}

void SlidingWindow::rebuild_band() {
  std::vector<double> t(size_);
  std::vector<double> v(size_);
  for (std::size_t i = 0; i < size_; ++i) {
    const Sample s = buf_[slot(i)];
    t[i] = s.t;
    v[i] = s.v;
  }
  band_.valid = false;
  band_.mid.clear();
  if (!detail::fast_path_ok(t.data(), v.data(), size_)) return;  // theil_sen() computes directly
  const auto [k1, k2] = median_ranks(size_);
  auto bracket = detail::bracket_slopes(t.data(), v.data(), size_, k1, k2);
  auto& mid = bracket.mid;
  // Narrow to about kBandMargin * n ranks either side of the median, keeping every copy of the end values;
  // only that part is sorted.
  const std::size_t margin = kBandMargin * size_;
  const std::size_t lo_index = k1 - bracket.below > margin ? k1 - bracket.below - margin : 0;
  const std::size_t hi_index = std::min(k2 - bracket.below + margin, mid.size() - 1);
  const auto at = [&](std::size_t i) { return mid.begin() + static_cast<std::ptrdiff_t>(i); };
  std::nth_element(mid.begin(), at(lo_index), mid.end());
  band_.lo = mid[lo_index];
  std::nth_element(at(lo_index), at(hi_index), mid.end());
  band_.hi = mid[hi_index];
  const auto first = std::partition(mid.begin(), mid.end(), [&](double s) { return s < band_.lo; });
  const auto last = std::partition(first, mid.end(), [&](double s) { return s <= band_.hi; });
  std::sort(first, last);
  band_.below = bracket.below + static_cast<std::size_t>(first - mid.begin());
  band_.in_band = static_cast<std::size_t>(last - first);
  for (auto it = first; it != last; ++it) {
    if (!band_.mid.empty() && band_.mid.back().slope == *it) {
      ++band_.mid.back().count;
    } else {
      band_.mid.push_back(SlopeCount{*it, 1});
    }
  }
  band_.rebuilt_size = band_.mid.size();
  if (band_.mid.capacity() > 2 * band_.mid.size() + 64) band_.mid.shrink_to_fit();
  band_.valid = true;
}

std::size_t SlidingWindow::index_since(double t_from) const noexcept {
  std::size_t lo = 0;
  std::size_t hi = size_;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (buf_[slot(mid)].t < t_from) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void SlidingWindow::copy_to(std::vector<Sample>& out, std::size_t first) const {
  out.reserve(out.size() + (first < size_ ? size_ - first : 0));
  for (std::size_t i = first; i < size_; ++i) out.push_back(buf_[slot(i)]);
}

std::optional<LinearFit> SlidingWindow::least_squares() const { return least_squares_since(-kInf); }

std::optional<LinearFit> SlidingWindow::least_squares_since(double t_from) const {
  const std::size_t first = index_since(t_from);
  return detail::least_squares_impl(size_ - first, [&](std::size_t i) { return buf_[slot(first + i)]; });
}

std::optional<double> SlidingWindow::theil_sen() const {
  if (!band_.valid) return theil_sen_since(-kInf);
  const auto [k1, k2] = median_ranks(size_);
  const double upper = band_at(k2);
  if (k1 == k2) return upper;
  return std::midpoint(band_at(k1), upper);
}

std::optional<double> SlidingWindow::theil_sen_since(double t_from) const {
  std::vector<Sample> samples;
  copy_to(samples, index_since(t_from));
  return theil_sen_slope(samples);
}

MannKendall SlidingWindow::mann_kendall() const {
  return mann_kendall_from(static_cast<double>(mk_s_), size_, static_cast<double>(mk_ties_));
}

MannKendall SlidingWindow::mann_kendall_since(double t_from) const {
  std::vector<Sample> samples;
  copy_to(samples, index_since(t_from));
  return stats::mann_kendall(samples);
}

std::size_t SlidingWindow::memory_bytes() const noexcept {
  return sizeof(*this) + buf_.capacity() * sizeof(Sample) + band_.mid.capacity() * sizeof(SlopeCount);
}

}  // namespace leakwatch::stats
