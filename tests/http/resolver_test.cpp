// The resolver with injected lookups: a slow or hanging name costs only its own requests, deadlines hold,
// results are cached and coalesced, and shutdown does not wait for a lookup that never returns.

#include "leakwatch/http/resolver.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace asio = boost::asio;
using leakwatch::common::Errc;
using leakwatch::common::Error;
using leakwatch::common::Result;
using leakwatch::http::Addresses;
using leakwatch::http::Resolver;
using leakwatch::http::ResolverOptions;
using namespace std::chrono_literals;

namespace {

// Lookups of names starting with "hang" block until released; everything else answers 127.0.0.1 at once.
// Shared with the resolver's detached threads, which may outlive a test.
struct FakeDns {
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> calls{0};
  std::map<std::string, int> per_name;

  Resolver::LookupFn fn(std::shared_ptr<FakeDns> self) {
    return [self](const std::string& host) -> Result<Addresses> {
      ++self->calls;
      std::unique_lock lock(self->m);
      ++self->per_name[host];
      if (host.starts_with("hang")) self->cv.wait(lock, [&] { return self->release; });
      if (host.starts_with("bad")) return Error(Errc::connect, "resolve " + host + ": Name or service not known");
      return Addresses{asio::ip::make_address("127.0.0.1")};
    };
  }
  void open() {
    {
      std::lock_guard lock(m);
      release = true;
    }
    cv.notify_all();
  }
};

struct Outcome {
  std::optional<Result<Addresses>> result;
  std::chrono::steady_clock::time_point at;
};

std::shared_ptr<Outcome> ask(Resolver& r, asio::io_context& io, const std::string& host,
                             std::chrono::milliseconds within) {
  auto out = std::make_shared<Outcome>();
  r.resolve(io, host, std::chrono::steady_clock::now() + within, [out](Result<Addresses> res) {
    out->result = std::move(res);
    out->at = std::chrono::steady_clock::now();
  });
  return out;
}

template <class Pred>
bool run_until(asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(5ms);
    if (io.stopped()) io.restart();
  }
  return pred();
}

}  // namespace

TEST_CASE("a hanging name costs only its own requests; its deadline holds", "[http]") {
  auto dns = std::make_shared<FakeDns>();
  asio::io_context io;
  Resolver resolver(ResolverOptions{.max_concurrent = 4}, dns->fn(dns));
  const auto start = std::chrono::steady_clock::now();
  auto hung = ask(resolver, io, "hang.test", 300ms);
  auto fast = ask(resolver, io, "fast.test", 5s);
  auto literal = ask(resolver, io, "10.1.2.3", 5s);
  REQUIRE(run_until(io, [&] { return fast->result && literal->result; }));
  CHECK(fast->result->has_value());
  CHECK(fast->at - start < 200ms);
  REQUIRE(literal->result->has_value());
  CHECK((*literal->result)->front().to_string() == "10.1.2.3");

  REQUIRE(run_until(io, [&] { return hung->result.has_value(); }));
  REQUIRE_FALSE(hung->result->has_value());
  CHECK(hung->result->error().code == Errc::timeout);
  CHECK(hung->at - start >= 300ms);
  CHECK(hung->at - start < 1s);

  // More requests for the hanging name join the lookup in flight instead of taking more workers.
  auto again = ask(resolver, io, "hang.test", 100ms);
  auto fast2 = ask(resolver, io, "fast2.test", 5s);
  REQUIRE(run_until(io, [&] { return again->result && fast2->result; }));
  CHECK(again->result->error().code == Errc::timeout);
  CHECK(fast2->result->has_value());
  {
    std::lock_guard lock(dns->m);
    CHECK(dns->per_name["hang.test"] == 1);
  }
  resolver.shutdown();
  dns->open();
}

TEST_CASE("IP literals never reach a lookup", "[http]") {
  auto dns = std::make_shared<FakeDns>();
  asio::io_context io;
  Resolver resolver({}, dns->fn(dns));
  auto v4 = ask(resolver, io, "127.0.0.1", 1s);
  auto v6 = ask(resolver, io, "::1", 1s);
  REQUIRE(run_until(io, [&] { return v4->result && v6->result; }));
  CHECK(v4->result->has_value());
  CHECK(v6->result->has_value());
  CHECK(dns->calls == 0);
  CHECK(resolver.lookups_started() == 0);
}

TEST_CASE("results are cached for the TTL, failures for the negative TTL, and forget() drops one", "[http]") {
  auto dns = std::make_shared<FakeDns>();
  asio::io_context io;
  Resolver resolver(ResolverOptions{.ttl = 300ms, .negative_ttl = 100ms}, dns->fn(dns));
  auto a = ask(resolver, io, "a.test", 1s);
  REQUIRE(run_until(io, [&] { return a->result.has_value(); }));
  auto b = ask(resolver, io, "a.test", 1s);
  REQUIRE(run_until(io, [&] { return b->result.has_value(); }));
  CHECK(dns->calls == 1);  // from the cache
  resolver.forget("a.test");
  auto c = ask(resolver, io, "a.test", 1s);
  REQUIRE(run_until(io, [&] { return c->result.has_value(); }));
  CHECK(dns->calls == 2);
  std::this_thread::sleep_for(350ms);
  auto d = ask(resolver, io, "a.test", 1s);
  REQUIRE(run_until(io, [&] { return d->result.has_value(); }));
  CHECK(dns->calls == 3);  // expired

  auto bad = ask(resolver, io, "bad.test", 1s);
  REQUIRE(run_until(io, [&] { return bad->result.has_value(); }));
  REQUIRE_FALSE(bad->result->has_value());
  CHECK(bad->result->error().code == Errc::connect);
  auto bad2 = ask(resolver, io, "bad.test", 1s);
  REQUIRE(run_until(io, [&] { return bad2->result.has_value(); }));
  CHECK(dns->calls == 4);  // the failure is cached too
}

TEST_CASE("cancel() completes a request at once; shutdown() does not wait for hung lookups", "[http]") {
  auto dns = std::make_shared<FakeDns>();
  asio::io_context io;
  auto resolver = std::make_unique<Resolver>(ResolverOptions{}, dns->fn(dns));
  std::optional<Result<Addresses>> got;
  auto pending = resolver->resolve(io, "hang.forever", std::chrono::steady_clock::now() + 1h,
                                   [&](Result<Addresses> r) { got = std::move(r); });
  io.run_for(20ms);
  CHECK_FALSE(got.has_value());
  pending->cancel();
  REQUIRE(run_until(io, [&] { return got.has_value(); }));
  CHECK(got->error().code == Errc::cancelled);

  const auto start = std::chrono::steady_clock::now();
  resolver.reset();  // the worker is still blocked in its lookup
  CHECK(std::chrono::steady_clock::now() - start < 100ms);
  dns->open();  // the worker wakes, finds the resolver shut down and drops its result
}

TEST_CASE("requests after shutdown fail with cancelled", "[http]") {
  auto dns = std::make_shared<FakeDns>();
  asio::io_context io;
  Resolver resolver({}, dns->fn(dns));
  resolver.shutdown();
  auto r = ask(resolver, io, "a.test", 1s);
  REQUIRE(run_until(io, [&] { return r->result.has_value(); }));
  CHECK(r->result->error().code == Errc::cancelled);
}
