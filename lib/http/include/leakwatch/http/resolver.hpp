#pragma once
// Name resolution for every HTTP client of the process (targets, the Kubernetes API, `analyze`).
//
// Why not Asio's resolver: it runs every async_resolve on one private thread, so one name whose lookup hangs
// (an unreachable DNS server, a stuck NSS module) delays every other lookup behind it, and a lookup cannot be
// abandoned at a deadline. Here:
//   - IP literals never reach a thread;
//   - lookups run on at most `max_concurrent` worker threads, and a name has at most one lookup in flight:
//     later requests for it join that lookup, so a name that resolves slowly holds one worker and delays only
//     the requests for that name;
//   - every request has its own deadline (and can be cancelled): when it passes, the request completes with
//     `timeout` at once, while the lookup itself runs on in its worker and fills the cache when it ends;
//   - results are cached for `ttl` (failures for `negative_ttl`; getaddrinfo does not report DNS TTLs), and a
//     caller that could not connect to a cached address calls forget() so the next request looks it up again.
// Worker threads are detached and own what they touch, so a lookup that never returns cannot hold up
// shutdown: shutdown() makes them drop their results instead of delivering them.

#include "leakwatch/common/clock.hpp"
#include "leakwatch/common/error.hpp"

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace leakwatch::http {

using Addresses = std::vector<boost::asio::ip::address>;

struct ResolverOptions {
  std::size_t max_concurrent = 16;
  std::chrono::milliseconds ttl{30'000};
  std::chrono::milliseconds negative_ttl{5'000};
  std::size_t max_entries = 65'536;  // cached names; the oldest are dropped beyond it
};

class Resolver {
 public:
  // What a lookup does; the default calls getaddrinfo. Tests inject slow or hanging ones. Errors are
  // Errc::connect with the system's reason.
  using LookupFn = std::function<common::Result<Addresses>(const std::string& host)>;
  using Done = std::function<void(common::Result<Addresses>)>;

  // A pending request: cancel() completes it with Errc::cancelled unless it has completed already.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual void cancel() = 0;
  };

  explicit Resolver(ResolverOptions options = {}, LookupFn lookup = {});
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Resolves `host` (a name or an IP literal) by `deadline`. `done` runs exactly once, from `io` and never
  // inside this call, with the addresses or an error: connect (no such name), timeout, cancelled.
  std::shared_ptr<Pending> resolve(boost::asio::io_context& io, const std::string& host, common::SteadyTime deadline,
                                   Done done);

  // Drops the cached result for `host` (after its addresses refused a connection).
  void forget(const std::string& host);

  // From now on lookups that finish deliver nothing, and new requests fail with cancelled. Call it before the
  // io_contexts that requests were made with are destroyed. Idempotent.
  void shutdown();

  // Figures for tests and metrics.
  std::size_t cached_names() const;
  std::size_t lookups_started() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace leakwatch::http
