#pragma once
// The alert state machine of one series, the same as a Prometheus alerting rule's: inactive -> pending when
// the condition starts holding, pending -> firing once it has held for `for`, back to inactive when it stops
// (a firing alert only after `keep_firing_for` without it).

#include <optional>
#include <string_view>

namespace leakwatch::detect {

enum class AlertState : unsigned char { inactive = 0, pending = 1, firing = 2 };

// What a state change reports: the new state, with "resolved" for any return to inactive (from pending as
// well as from firing, so a consumer of the changes never sees two "pending" in a row).
enum class Transition : unsigned char { pending, firing, resolved };

std::string_view transition_name(Transition t) noexcept;  // "pending", "firing", "resolved"

class Alert {
 public:
  // Feeds the condition at time t (seconds); returns the state change it caused, if any. With
  // for_seconds == 0 a true condition goes straight to firing. `may_fire` false holds a pending alert at
  // pending even after `for` (the evidence for firing is not there yet); it does not affect one that fires.
  std::optional<Transition> update(bool condition, double t, double for_seconds, double keep_firing_seconds,
                                   bool may_fire = true);
  // Forces inactive (a restart, a series dropped); returns resolved if it was active.
  std::optional<Transition> reset();

  AlertState state() const noexcept { return state_; }
  bool active() const noexcept { return state_ != AlertState::inactive; }
  double active_since() const noexcept { return active_since_; }  // when it last went pending (or firing)

 private:
  AlertState state_ = AlertState::inactive;
  double active_since_ = 0;    // when the condition started holding (pending)
  double last_condition_ = 0;  // last time the condition held (firing)
};

}  // namespace leakwatch::detect
