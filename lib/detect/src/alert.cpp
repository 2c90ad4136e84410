#include "leakwatch/detect/alert.hpp"

namespace leakwatch::detect {

std::string_view transition_name(Transition t) noexcept {
  switch (t) {
    case Transition::pending: return "pending";
    case Transition::firing: return "firing";
    case Transition::resolved: return "resolved";
  }
  return "resolved";
}

std::optional<Transition> Alert::update(bool condition, double t, double for_seconds, double keep_firing_seconds,
                                        bool may_fire) {
  if (condition) last_condition_ = t;
  switch (state_) {
    case AlertState::inactive:
      if (!condition) return std::nullopt;
      active_since_ = t;
      if (for_seconds <= 0 && may_fire) {
        state_ = AlertState::firing;
        return Transition::firing;
      }
      state_ = AlertState::pending;
      return Transition::pending;
    case AlertState::pending:
      if (!condition) {
        state_ = AlertState::inactive;
        return Transition::resolved;
      }
      if (t - active_since_ >= for_seconds && may_fire) {
        state_ = AlertState::firing;
        return Transition::firing;
      }
      return std::nullopt;
    case AlertState::firing:
      if (!condition && t - last_condition_ >= keep_firing_seconds) {
        state_ = AlertState::inactive;
        return Transition::resolved;
      }
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<Transition> Alert::reset() {
  const bool was_active = active();
  state_ = AlertState::inactive;
  if (was_active) return Transition::resolved;
  return std::nullopt;
}

}  // namespace leakwatch::detect
