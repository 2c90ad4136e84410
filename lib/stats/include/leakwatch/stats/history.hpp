#pragma once
// A series' whole life at a coarse grain: where the sliding window keeps the last hour sample by sample,
// History keeps one checkpoint per `step` since the series started, in a fixed number of slots. A
// checkpoint is the mean time and mean value of the samples of its step, so a count that scatters from
// poll to poll (goroutines that come and go) is smoothed there. When the slots are full, neighbouring
// checkpoints are merged pairwise and the step doubles, so the history always reaches back to the first
// sample (16 slots at a 1-minute initial step cover 16 minutes at 1 minute, 32 at 2, ..., 17 hours at 64).
// Bounded and small, because every tracked stack group has one: 16 checkpoints of 8 bytes (times relative
// to the first sample, as float) and the step being filled, about 180 bytes. Merging weighs the two
// checkpoints equally: with regular polls their steps hold the same number of samples.
//
// Detection asks it what the (smoothed) count was at a past moment (value_at), to compare how fast a group
// grew early in its life with how fast it grows now.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace leakwatch::stats {

class History {
 public:
  static constexpr std::size_t kSlots = 16;

  // step_seconds > 0: the initial length of a checkpoint's step.
  explicit History(double step_seconds = 60);

  // A sample (times increasing; others are ignored).
  void push(double t, double v);
  void clear();

  bool empty() const noexcept { return size_ == 0 && pending_n_ == 0; }
  std::size_t size() const noexcept { return size_; }  // closed checkpoints
  double first_t() const noexcept { return t0_; }
  double step_seconds() const noexcept { return step_; }
  // The smoothed count at time t, linearly interpolated between the checkpoints around it (the first
  // checkpoint's value between the first sample and that checkpoint's mean time); nullopt before the first
  // sample or after the last closed checkpoint.
  std::optional<double> value_at(double t) const;
  // Samples per closed checkpoint, on average (how much each one is smoothed).
  double samples_per_checkpoint() const noexcept;

 private:
  void close_step();
  void compact();

  std::array<float, kSlots> dt_{};  // mean sample time, seconds since the first sample
  std::array<float, kSlots> v_{};   // mean value
  double t0_ = 0;
  float step_;
  float initial_step_;
  // The step being filled: [step_start_, step_start_ + step_), seconds since the first sample.
  float step_start_ = 0;
  float last_dt_ = 0;
  double pending_t_ = 0;  // sums over the step being filled
  double pending_v_ = 0;
  std::uint32_t pending_n_ = 0;
  std::uint32_t closed_n_ = 0;  // samples in the closed checkpoints
  std::uint8_t size_ = 0;
};

}  // namespace leakwatch::stats
