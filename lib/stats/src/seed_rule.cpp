// The seed article's growth-rate rule (for comparison; see the header for the choices made).

#include "leakwatch/stats/seed_rule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace leakwatch::stats {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double median_of(const std::deque<double>& values) {
  std::vector<double> copy(values.begin(), values.end());
  const std::size_t k2 = copy.size() / 2;
  std::nth_element(copy.begin(), copy.begin() + static_cast<std::ptrdiff_t>(k2), copy.end());
  const double upper = copy[k2];
  if (copy.size() % 2 == 1) return upper;
  return std::midpoint(*std::max_element(copy.begin(), copy.begin() + static_cast<std::ptrdiff_t>(k2)), upper);
}

}  // namespace

SeedRule::SeedRule(SeedRuleOptions options) : options_(options), last_slope_(kNaN), baseline_(kNaN) {
  options_.points = std::max<std::size_t>(options_.points, 2);
  options_.history = std::max<std::size_t>(options_.history, 1);
  options_.consecutive = std::max<std::size_t>(options_.consecutive, 1);
}

void SeedRule::reset() {
  recent_.clear();
  history_.clear();
  last_slope_ = kNaN;
  baseline_ = kNaN;
  hot_streak_ = 0;
  firing_ = false;
}

bool SeedRule::push(Sample s) {
  if (!std::isfinite(s.t) || !std::isfinite(s.v)) return firing_;
  if (!recent_.empty() && !(s.t > recent_.back().t)) return firing_;
  recent_.push_back(s);
  if (recent_.size() > options_.points) recent_.pop_front();
  if (recent_.size() < options_.points) return firing_;

  const std::vector<Sample> window(recent_.begin(), recent_.end());
  const auto fit = least_squares(window);
  const double k = fit ? fit->slope : 0;  // strictly increasing t: a fit always exists
  last_slope_ = k;

  bool hot = false;
  if (history_.size() >= options_.min_history && !history_.empty()) {
    baseline_ = median_of(history_);
    hot = baseline_ > 0 && k > options_.factor * baseline_;
  } else {
    baseline_ = history_.empty() ? kNaN : median_of(history_);
  }
  hot_streak_ = hot ? hot_streak_ + 1 : 0;
  firing_ = hot_streak_ >= options_.consecutive || k > options_.absolute_cap;

  history_.push_back(k);
  if (history_.size() > options_.history) history_.pop_front();
  return firing_;
}

}  // namespace leakwatch::stats
