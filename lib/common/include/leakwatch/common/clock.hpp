#pragma once
// Time at the seams (as Envoy's TimeSource): the poll loop asks a Clock for the time and for timers, so tests
// drive it with a ManualClock and run without sleeps, while the daemon uses SystemClock. Steady time orders
// and spaces events; system (wall) time is what samples and metrics are stamped with.
//
// The interfaces are plain callbacks so that this header needs no Asio beyond a forward declaration.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace leakwatch::common {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

class Timer {
 public:
  virtual ~Timer() = default;
  // Calls `done(true)` once the clock reaches `at`, or `done(false)` when cancel() comes first. `done` runs
  // from the io_context the timer was made for, never from inside this call; one wait at a time.
  virtual void async_wait_until(SteadyTime at, std::function<void(bool reached)> done) = 0;
  // Ends the pending wait, if any (its `done` gets false). Safe to call when nothing waits.
  virtual void cancel() noexcept = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime steady_now() const noexcept = 0;
  virtual WallTime system_now() const noexcept = 0;
  virtual std::unique_ptr<Timer> make_timer(boost::asio::io_context& io) = 0;

  // Wall time as Unix seconds, what samples are stamped with.
  double unix_seconds() const noexcept {
    return std::chrono::duration<double>(system_now().time_since_epoch()).count();
  }
};

// The real clocks, and Asio steady timers.
class SystemClock final : public Clock {
 public:
  SteadyTime steady_now() const noexcept override { return std::chrono::steady_clock::now(); }
  WallTime system_now() const noexcept override { return std::chrono::system_clock::now(); }
  std::unique_ptr<Timer> make_timer(boost::asio::io_context& io) override;

  // One is enough for a process; it holds no state.
  static SystemClock& instance();
};

// Time that moves only when a test says so. advance() moves steady and system time together and fires the
// timers that came due (their callbacks are posted to their io_context: run it, e.g. io.poll(), to deliver
// them). Thread-safe, so a test may advance it while a loop runs on other threads.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime start = WallTime{} + std::chrono::hours(24 * 365 * 56));
  ~ManualClock() override;  // drops the pending waits (their callbacks never run)
  SteadyTime steady_now() const noexcept override;
  WallTime system_now() const noexcept override;
  std::unique_ptr<Timer> make_timer(boost::asio::io_context& io) override;

  void advance(std::chrono::nanoseconds d);
  // Moves to `at` (never backwards), firing what came due.
  void advance_to(SteadyTime at);
  // The earliest pending timer's deadline, if one waits: lets a test jump straight to the next event.
  std::optional<SteadyTime> next_deadline() const;
  std::size_t pending_timers() const;

 private:
  class ManualTimer;
  struct Waiter {
    std::uint64_t id;
    SteadyTime at;
    boost::asio::io_context* io;
    std::function<void(bool)> done;
  };
  void fire_due();
  std::uint64_t next_id_locked();
  void add(Waiter w);
  bool remove(std::uint64_t id, Waiter& out);

  mutable std::mutex mutex_;
  SteadyTime steady_;
  WallTime wall_;
  std::uint64_t next_id_ = 1;
  std::vector<Waiter> waiters_;
};

}  // namespace leakwatch::common
