#include "leakwatch/common/clock.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <vector>

using namespace leakwatch::common;
using namespace std::chrono_literals;

TEST_CASE("ManualClock: time moves only when told; due timers fire in order through the io_context", "[common]") {
  boost::asio::io_context io;
  ManualClock clock;
  const auto t0 = clock.steady_now();
  const auto w0 = clock.system_now();
  auto a = clock.make_timer(io);
  auto b = clock.make_timer(io);
  auto c = clock.make_timer(io);
  std::vector<std::string> fired;
  a->async_wait_until(t0 + 2s, [&](bool reached) { fired.push_back(reached ? "a" : "a cancelled"); });
  b->async_wait_until(t0 + 1s, [&](bool reached) { fired.push_back(reached ? "b" : "b cancelled"); });
  c->async_wait_until(t0 + 5s, [&](bool reached) { fired.push_back(reached ? "c" : "c cancelled"); });
  CHECK(clock.pending_timers() == 3);
  CHECK(clock.next_deadline() == t0 + 1s);
  io.poll();
  CHECK(fired.empty());  // nothing is due

  clock.advance(3s);
  CHECK(clock.steady_now() == t0 + 3s);
  CHECK(clock.system_now() == w0 + 3s);
  CHECK(fired.empty());  // delivered through the io_context, never inside advance()
  io.restart();
  io.poll();
  CHECK(fired == std::vector<std::string>{"b", "a"});

  c->cancel();
  io.restart();
  io.poll();
  CHECK(fired.back() == "c cancelled");
  CHECK(clock.pending_timers() == 0);

  // A wait for a time already reached completes at once (as an Asio timer's does).
  a->async_wait_until(t0, [&](bool reached) { fired.push_back(reached ? "past" : "?"); });
  io.restart();
  io.poll();
  CHECK(fired.back() == "past");
}

TEST_CASE("SystemClock timers fire and cancel", "[common]") {
  boost::asio::io_context io;
  auto& clock = SystemClock::instance();
  auto t = clock.make_timer(io);
  bool reached = false;
  t->async_wait_until(clock.steady_now() + 1ms, [&](bool r) { reached = r; });
  io.run();
  CHECK(reached);
  io.restart();
  bool cancelled = false;
  t->async_wait_until(clock.steady_now() + 1h, [&](bool r) { cancelled = !r; });
  t->cancel();
  io.run();
  CHECK(cancelled);
}
