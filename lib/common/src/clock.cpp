#include "leakwatch/common/clock.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>

namespace leakwatch::common {
namespace asio = boost::asio;

namespace {

class AsioTimer final : public Timer {
 public:
  explicit AsioTimer(asio::io_context& io) : timer_(io) {}

  void async_wait_until(SteadyTime at, std::function<void(bool)> done) override {
    timer_.expires_at(at);
    timer_.async_wait([done = std::move(done)](const boost::system::error_code& ec) { done(!ec); });
  }
  void cancel() noexcept override { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

}  // namespace

std::unique_ptr<Timer> SystemClock::make_timer(asio::io_context& io) { return std::make_unique<AsioTimer>(io); }

SystemClock& SystemClock::instance() {
  static SystemClock clock;
  return clock;
}

class ManualClock::ManualTimer final : public Timer {
 public:
  ManualTimer(ManualClock& clock, asio::io_context& io) : clock_(clock), io_(io) {}
  ~ManualTimer() override { cancel(); }

  void async_wait_until(SteadyTime at, std::function<void(bool)> done) override {
    id_ = clock_.next_id_locked();
    clock_.add(Waiter{id_, at, &io_, std::move(done)});
  }
  void cancel() noexcept override {
    Waiter w;
    if (id_ != 0 && clock_.remove(id_, w)) asio::post(io_, [done = std::move(w.done)] { done(false); });
    id_ = 0;
  }

 private:
  ManualClock& clock_;
  asio::io_context& io_;
  std::uint64_t id_ = 0;
};

ManualClock::ManualClock(WallTime start) : steady_(SteadyTime{} + std::chrono::hours(1)), wall_(start) {}

ManualClock::~ManualClock() {
  // A pending wait's callback may own the timer that waits (a loop waiting for its next tick): destroying
  // it calls back into remove(), which must then find the list already empty.
  std::vector<Waiter> pending;
  {
    std::lock_guard lock(mutex_);
    pending.swap(waiters_);
  }
  pending.clear();
}

SteadyTime ManualClock::steady_now() const noexcept {
  std::lock_guard lock(mutex_);
  return steady_;
}

WallTime ManualClock::system_now() const noexcept {
  std::lock_guard lock(mutex_);
  return wall_;
}

std::unique_ptr<Timer> ManualClock::make_timer(asio::io_context& io) {
  return std::make_unique<ManualTimer>(*this, io);
}

void ManualClock::advance(std::chrono::nanoseconds d) {
  {
    std::lock_guard lock(mutex_);
    steady_ += std::chrono::duration_cast<SteadyTime::duration>(d);
    wall_ += std::chrono::duration_cast<WallTime::duration>(d);
  }
  fire_due();
}

void ManualClock::advance_to(SteadyTime at) {
  std::chrono::nanoseconds d{0};
  {
    std::lock_guard lock(mutex_);
    if (at > steady_) d = at - steady_;
  }
  advance(d);
}

std::optional<SteadyTime> ManualClock::next_deadline() const {
  std::lock_guard lock(mutex_);
  if (waiters_.empty()) return std::nullopt;
  return std::min_element(waiters_.begin(), waiters_.end(),
                          [](const Waiter& a, const Waiter& b) { return a.at < b.at; })
      ->at;
}

std::size_t ManualClock::pending_timers() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

std::uint64_t ManualClock::next_id_locked() {
  std::lock_guard lock(mutex_);
  return next_id_++;
}

void ManualClock::add(Waiter w) {
  {
    std::lock_guard lock(mutex_);
    waiters_.push_back(std::move(w));
  }
  fire_due();  // a wait for a time already reached completes at once, as an Asio timer's does
}

bool ManualClock::remove(std::uint64_t id, Waiter& out) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(waiters_.begin(), waiters_.end(), [id](const Waiter& w) { return w.id == id; });
  if (it == waiters_.end()) return false;
  out = std::move(*it);
  waiters_.erase(it);
  return true;
}

void ManualClock::fire_due() {
  std::vector<Waiter> due;
  {
    std::lock_guard lock(mutex_);
    auto split = std::stable_partition(waiters_.begin(), waiters_.end(),
                                       [this](const Waiter& w) { return w.at > steady_; });
    due.assign(std::make_move_iterator(split), std::make_move_iterator(waiters_.end()));
    waiters_.erase(split, waiters_.end());
  }
  std::sort(due.begin(), due.end(), [](const Waiter& a, const Waiter& b) { return a.at < b.at; });
  for (auto& w : due) asio::post(*w.io, [done = std::move(w.done)] { done(true); });
}

}  // namespace leakwatch::common
