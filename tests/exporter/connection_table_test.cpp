// The own port's connection table with a given clock: who is evicted at the limit, who is safe, and that
// eviction really ends the evicted connection (on a socketpair).

#include "connection_table.hpp"

#include <catch2/catch.hpp>
#include <prometheus/registry.h>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>

using namespace leakwatch::exporter;
using namespace std::chrono_literals;

namespace {

// Both ends of a connected socket pair, closed at the end of the test.
struct Pair {
  Pair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds.data()) == 0); }
  ~Pair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  int server() const { return fds[0]; }
  // True once the server end was shut down: the client end reads end-of-file.
  bool shut_down() const {
    char c;
    return ::recv(fds[1], &c, 1, MSG_DONTWAIT) == 0;
  }
  std::array<int, 2> fds{};
};

}  // namespace

TEST_CASE("at the limit the quietest connection makes room, unless every one is recent", "[exporter]") {
  prometheus::Registry registry;
  auto& open = prometheus::BuildGauge().Name("open").Help("h").Register(registry).Add({});
  ConnectionTable table(2, 1s, &open);
  const ConnectionTable::Clock::time_point t0{};
  Pair a, b, c, d;

  auto first = table.admit(a.server(), t0);
  auto second = table.admit(b.server(), t0 + 500ms);
  REQUIRE(first.slot);
  REQUIRE(second.slot);
  CHECK_FALSE(first.evicted);
  CHECK(open.Value() == 2);

  // The quietest (a) has been quiet only 0.8 s: it may still be sending its request, so the newcomer waits.
  auto early = table.admit(c.server(), t0 + 800ms);
  CHECK_FALSE(early.slot);
  CHECK_FALSE(a.shut_down());
  CHECK(table.size() == 2);

  // At 1.2 s a is fair game, and its socket is shut down so its own reader ends.
  second.slot.touch(t0 + 1200ms);  // b completed a request just now
  auto third = table.admit(c.server(), t0 + 1200ms);
  REQUIRE(third.slot);
  CHECK(third.evicted);
  CHECK(a.shut_down());
  CHECK_FALSE(b.shut_down());
  CHECK(table.size() == 2);
  CHECK(open.Value() == 2);

  // a's owner destroying its evicted slot frees nothing more; b and c are both recent, so d is refused.
  first.slot = {};
  CHECK(table.size() == 2);
  CHECK_FALSE(table.admit(d.server(), t0 + 1500ms).slot);

  // A connection that ends frees its place.
  third.slot = {};
  CHECK(table.size() == 1);
  CHECK(open.Value() == 1);
  auto fourth = table.admit(d.server(), t0 + 1500ms);
  CHECK(fourth.slot);
  CHECK_FALSE(fourth.evicted);
  CHECK_FALSE(b.shut_down());
}

TEST_CASE("a moved slot leaves the table once", "[exporter]") {
  ConnectionTable table(4, 1s);
  Pair a;
  auto admitted = table.admit(a.server());
  ConnectionTable::Slot moved = std::move(admitted.slot);
  CHECK_FALSE(admitted.slot);
  CHECK(moved);
  CHECK(table.size() == 1);
  ConnectionTable::Slot other;
  other = std::move(moved);
  CHECK(table.size() == 1);
  other = {};
  CHECK(table.size() == 0);
}
