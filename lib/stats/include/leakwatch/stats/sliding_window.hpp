#pragma once
// One series' recent samples with incrementally maintained trend statistics: the unit detection keeps per
// series (a target's total goroutine count, each stack group) and evaluates after every poll.

#include "leakwatch/stats/trend.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace leakwatch::stats {

// A sliding time window of samples. Bounded: keeps samples with t > newest.t - span, and at most
// max_samples (oldest dropped first), in a ring buffer that grows on demand up to max_samples.
//
// push() is O(n): it compares the new sample against the window and the dropped sample against the rest,
// keeping Mann–Kendall's S and tie term and an exact Theil–Sen bracket (the count of pair slopes below and
// above a band around the median, and the sorted slopes inside it) up to date, so mann_kendall() and
// theil_sen() on the whole window are O(1) (O(distinct slopes in the band)). When the median leaves the
// band (or the band outgrows its bound), push() rebuilds it from all pairs, which costs about one batch
// theil_sen_slope(). The band holds the slopes within about 2n ranks of the median (equal slopes stored
// once), so a rebuild happens every few dozen pushes on noisy data and almost never on a flat series.
// least_squares() computes on the current contents (O(n)); the *_since() variants compute the statistics
// of a sub-window (e.g. its last third) on demand.
//
// Not thread-safe; one window belongs to one series and is used from one strand.
class SlidingWindow {
 public:
  // span_seconds > 0, max_samples >= 1.
  SlidingWindow(double span_seconds, std::size_t max_samples);

  // Adds s, dropping samples that fall out of the span or over max_samples first. A sample with
  // t <= back().t, or with a non-finite t or v, is ignored (returns false).
  bool push(Sample s);
  void clear();

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // Oldest first; i < size(), front()/back() need !empty().
  Sample front() const;
  Sample back() const;
  Sample operator[](std::size_t i) const;
  double span_seconds() const noexcept { return span_; }
  std::size_t max_samples() const noexcept { return max_samples_; }

  // The index of the first sample with t >= t_from (size() if none); samples [index, size()) are the
  // sub-window the *_since() functions use.
  std::size_t index_since(double t_from) const noexcept;
  // Appends samples [first, size()) to out, oldest first: for statistics not offered here.
  void copy_to(std::vector<Sample>& out, std::size_t first = 0) const;

  std::optional<LinearFit> least_squares() const;
  std::optional<LinearFit> least_squares_since(double t_from) const;  // samples with t >= t_from
  std::optional<double> theil_sen() const;
  std::optional<double> theil_sen_since(double t_from) const;
  MannKendall mann_kendall() const;
  MannKendall mann_kendall_since(double t_from) const;

  // Heap + object, for the memory-per-series figure.
  std::size_t memory_bytes() const noexcept;

 private:
  // Theil–Sen over the whole window, maintained by push(). Exact classification: a pair's slope is
  // computed with detail::pair_slope() both when it enters and when it leaves, so the counts stay exact.
  // Equal slopes are stored once with a count: a flat series of integer counts has thousands of pairs
  // with slope exactly 0 right at the median.
  struct SlopeCount {
    double slope;
    std::uint32_t count;
  };
  struct SlopeBand {
    bool valid = false;
    double lo = 0;
    double hi = 0;
    std::size_t below = 0;         // pair slopes < lo
    std::size_t in_band = 0;       // pair slopes in [lo, hi]: the sum of mid's counts
    std::size_t rebuilt_size = 0;  // mid.size() right after the last rebuild
    std::vector<SlopeCount> mid;   // distinct pair slopes in [lo, hi], ascending
  };

  std::size_t slot(std::size_t i) const noexcept {
    const std::size_t s = head_ + i;
    return s < buf_.size() ? s : s - buf_.size();
  }
  void drop_front();
  void append(Sample s);
  void band_add(double slope);
  void band_remove(double slope);
  bool band_holds_median() const noexcept;
  double band_at(std::size_t rank) const noexcept;  // the slope of overall rank `rank`, in the band
  void rebuild_band();

  double span_;
  std::size_t max_samples_;
  std::vector<Sample> buf_;  // ring: size_ samples from head_, wrapping
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::int64_t mk_s_ = 0;
  std::int64_t mk_ties_ = 0;  // sum over tie groups of t(t-1)(2t+5)
  SlopeBand band_;
};

}  // namespace leakwatch::stats
