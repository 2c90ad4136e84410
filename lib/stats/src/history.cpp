#include "leakwatch/stats/history.hpp"

#include <cmath>

namespace leakwatch::stats {

History::History(double step_seconds)
    : step_(static_cast<float>(step_seconds > 0 ? step_seconds : 60)), initial_step_(step_) {}

void History::clear() { *this = History(initial_step_); }

void History::push(double t, double v) {
  if (!std::isfinite(t) || !std::isfinite(v)) return;
  if (empty()) {
    t0_ = t;
    step_start_ = 0;
    last_dt_ = 0;
  } else if (static_cast<float>(t - t0_) <= last_dt_) {
    return;
  }
  const double dt = t - t0_;
  last_dt_ = static_cast<float>(dt);
  if (dt >= static_cast<double>(step_start_) + step_) {
    if (pending_n_ > 0) close_step();
    // The step holding dt (gaps skip steps).
    step_start_ += static_cast<float>(std::floor((dt - step_start_) / step_) * step_);
  }
  pending_t_ += dt;
  pending_v_ += v;
  ++pending_n_;
}

void History::close_step() {
  if (size_ == kSlots) compact();
  const double n = pending_n_;
  dt_[size_] = static_cast<float>(pending_t_ / n);
  v_[size_] = static_cast<float>(pending_v_ / n);
  ++size_;
  closed_n_ += pending_n_;
  pending_t_ = pending_v_ = 0;
  pending_n_ = 0;
}

// Merges neighbouring checkpoints pairwise and doubles the step. The step being filled is realigned to the
// doubled grid.
void History::compact() {
  std::uint8_t out = 0;
  for (std::uint8_t i = 0; i < size_; i += 2, ++out) {
    if (i + 1 == size_) {
      dt_[out] = dt_[i];
      v_[out] = v_[i];
    } else {
      dt_[out] = (dt_[i] + dt_[i + 1]) / 2;
      v_[out] = (v_[i] + v_[i + 1]) / 2;
    }
  }
  size_ = out;
  step_ *= 2;
}

std::optional<double> History::value_at(double t) const {
  if (size_ == 0) return std::nullopt;
  const double dt = t - t0_;
  if (dt < 0 || dt > static_cast<double>(dt_[size_ - 1])) return std::nullopt;
  // Before the first checkpoint's mean time (merged checkpoints' means move later): the earliest level known.
  if (size_ == 1 || dt <= static_cast<double>(dt_[0])) return static_cast<double>(v_[0]);
  std::size_t i = 1;
  while (i + 1 < size_ && static_cast<double>(dt_[i]) < dt) ++i;
  const double t_a = dt_[i - 1], t_b = dt_[i];
  const double v_a = v_[i - 1], v_b = v_[i];
  if (t_b <= t_a) return v_b;
  return v_a + (v_b - v_a) * (dt - t_a) / (t_b - t_a);
}

double History::samples_per_checkpoint() const noexcept {
  if (size_ == 0) return 1;
  return static_cast<double>(closed_n_) / size_;
}

}  // namespace leakwatch::stats
