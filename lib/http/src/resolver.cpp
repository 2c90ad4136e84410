#include "leakwatch/http/resolver.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace leakwatch::http {
namespace asio = boost::asio;
using common::Errc;
using common::Error;
using common::Result;

namespace {

Result<Addresses> system_lookup(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    std::string reason = rc == EAI_SYSTEM ? std::string(std::strerror(errno)) : std::string(::gai_strerror(rc));
    return Error(Errc::connect, "resolve " + host + ": " + reason);
  }
  Addresses out;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    asio::ip::address a;
    if (ai->ai_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &sin->sin_addr, b.size());
      a = asio::ip::address_v4(b);
    } else if (ai->ai_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6->sin6_addr, b.size());
      a = asio::ip::address_v6(b, sin6->sin6_scope_id);
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  ::freeaddrinfo(list);
  if (out.empty()) return Error(Errc::connect, "resolve " + host + ": no addresses");
  return out;
}

// One request: completed by whichever comes first of the lookup's result, its deadline and cancel(). All of
// that happens on the request's own strand, so the three never race.
class Request final : public Resolver::Pending, public std::enable_shared_from_this<Request> {
 public:
  Request(asio::io_context& io, Resolver::Done done)
      : strand_(asio::make_strand(io)), timer_(strand_), done_(std::move(done)) {}

  void arm(common::SteadyTime deadline) {
    timer_.expires_at(deadline);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->complete(Error(Errc::timeout, "resolve: deadline exceeded"));
    });
  }

  // From any thread.
  void deliver(Result<Addresses> r) {
    asio::post(strand_, [self = shared_from_this(), r = std::move(r)]() mutable { self->complete(std::move(r)); });
  }

  void cancel() override { deliver(Error(Errc::cancelled, "resolve: cancelled")); }

  bool finished() const { return finished_flag_.load(std::memory_order_acquire); }

 private:
  void complete(Result<Addresses> r) {
    if (finished_) return;
    finished_ = true;
    finished_flag_.store(true, std::memory_order_release);
    timer_.cancel();
    auto done = std::move(done_);
    done(std::move(r));
  }

  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  Resolver::Done done_;
  bool finished_ = false;                   // on the strand
  std::atomic<bool> finished_flag_{false};  // for pruning from other threads
};

}  // namespace

struct Resolver::State {
  struct Entry {
    bool in_flight = false;
    bool has_result = false;
    Result<Addresses> result = Error(Errc::connect, "not resolved");
    common::SteadyTime expires{};
    common::SteadyTime inserted{};
    std::vector<std::shared_ptr<Request>> waiters;
  };

  ResolverOptions options;
  LookupFn lookup;
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::unordered_map<std::string, Entry> entries;
  std::deque<std::string> queue;  // names waiting for a worker
  std::size_t workers = 0;
  std::size_t idle = 0;
  std::size_t started = 0;
  bool stopped = false;

  // Runs on a detached thread; `self` keeps the state alive for as long as the thread runs.
  static void work(std::shared_ptr<State> self) {
    std::unique_lock lock(self->mutex);
    while (!self->stopped) {
      if (self->queue.empty()) {
        ++self->idle;
        self->wake.wait(lock, [&] { return self->stopped || !self->queue.empty(); });
        --self->idle;
        continue;
      }
      std::string host = std::move(self->queue.front());
      self->queue.pop_front();
      ++self->started;
      lock.unlock();
      Result<Addresses> r = self->lookup(host);  // may take as long as it likes
      lock.lock();
      if (self->stopped) break;
      self->finish(host, std::move(r));
    }
    --self->workers;
  }

  // Called with the mutex held.
  void finish(const std::string& host, Result<Addresses> r) {
    const auto now = std::chrono::steady_clock::now();
    Entry& e = entries[host];
    e.in_flight = false;
    e.has_result = true;
    e.expires = now + (r ? options.ttl : options.negative_ttl);
    e.result = std::move(r);
    for (auto& w : e.waiters) w->deliver(e.result);
    e.waiters.clear();
  }

  // Called with the mutex held: makes room for one more name.
  void evict() {
    if (entries.size() < options.max_entries) return;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = entries.begin(); it != entries.end();) {
      if (!it->second.in_flight && it->second.expires <= now) {
        it = entries.erase(it);
      } else {
        ++it;
      }
    }
    if (entries.size() < options.max_entries) return;
    auto oldest = entries.end();
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->second.in_flight) continue;
      if (oldest == entries.end() || it->second.inserted < oldest->second.inserted) oldest = it;
    }
    if (oldest != entries.end()) entries.erase(oldest);
  }
};

Resolver::Resolver(ResolverOptions options, LookupFn lookup) : state_(std::make_shared<State>()) {
  state_->options = options;
  if (state_->options.max_concurrent == 0) state_->options.max_concurrent = 1;
  state_->lookup = lookup ? std::move(lookup) : LookupFn(&system_lookup);
}

Resolver::~Resolver() { shutdown(); }

void Resolver::shutdown() {
  std::lock_guard lock(state_->mutex);
  state_->stopped = true;
  state_->queue.clear();
  state_->entries.clear();
  state_->wake.notify_all();
}

std::shared_ptr<Resolver::Pending> Resolver::resolve(asio::io_context& io, const std::string& host,
                                                     common::SteadyTime deadline, Done done) {
  auto request = std::make_shared<Request>(io, std::move(done));
  boost::system::error_code ec;
  const auto literal = asio::ip::make_address(host, ec);
  if (!ec) {
    request->deliver(Addresses{literal});
    return request;
  }
  std::unique_lock lock(state_->mutex);
  if (state_->stopped) {
    lock.unlock();
    request->deliver(Error(Errc::cancelled, "resolve: shutting down"));
    return request;
  }
  const auto now = std::chrono::steady_clock::now();
  auto it = state_->entries.find(host);
  if (it != state_->entries.end() && it->second.has_result && !it->second.in_flight && it->second.expires > now) {
    request->deliver(it->second.result);
    return request;
  }
  if (it == state_->entries.end()) {
    state_->evict();
    it = state_->entries.emplace(host, State::Entry{}).first;
    it->second.inserted = now;
  }
  State::Entry& e = it->second;
  // Requests that ended by their deadline or a cancel stay listed only until the next request for the name:
  // a name whose lookup never returns collects at most the requests still waiting.
  std::erase_if(e.waiters, [](const std::shared_ptr<Request>& w) { return w->finished(); });
  request->arm(deadline);
  e.waiters.push_back(request);
  if (!e.in_flight) {
    e.in_flight = true;
    state_->queue.push_back(host);
    if (state_->idle > 0) {
      state_->wake.notify_one();
    } else if (state_->workers < state_->options.max_concurrent) {
      ++state_->workers;
      std::thread(&State::work, state_).detach();
    }
  }
  return request;
}

void Resolver::forget(const std::string& host) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->entries.find(host);
  if (it != state_->entries.end() && !it->second.in_flight) state_->entries.erase(it);
}

std::size_t Resolver::cached_names() const {
  std::lock_guard lock(state_->mutex);
  return state_->entries.size();
}

std::size_t Resolver::lookups_started() const {
  std::lock_guard lock(state_->mutex);
  return state_->started;
}

}  // namespace leakwatch::http
