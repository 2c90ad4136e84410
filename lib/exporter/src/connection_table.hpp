#pragma once
// The open connections of leakwatch's own port, bounded by --web.max-connections. At the limit a new
// connection displaces the one that has been quiet longest (a slowloris still trickling its first request,
// a TLS handshake that never finishes, an idle keep-alive), provided it has been quiet for `min_quiet`:
// refusing the newcomer instead would let whoever opened the first 512 connections keep a scraper out for as
// long as the read timeouts allow. Only connections that completed a request or a response recently are
// safe, and when every slot is such a one, the newcomer is refused.
//
// Eviction is ::shutdown(2) on the connection's descriptor: its pending read or write ends at once with an
// error and its own coroutine closes it, so no other thread touches its socket object. The table's mutex
// makes that safe: a slot leaves the table (under the mutex) before its socket is closed, so a descriptor
// number the kernel has reused is never shut down.

#include <prometheus/gauge.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace leakwatch::exporter {

class ConnectionTable {
 public:
  using Clock = std::chrono::steady_clock;

  // `open` (optional) follows the number of connections in the table.
  ConnectionTable(std::size_t limit, Clock::duration min_quiet, prometheus::Gauge* open = nullptr);
  ConnectionTable(const ConnectionTable&) = delete;
  ConnectionTable& operator=(const ConnectionTable&) = delete;

  // A connection's place in the table; it leaves the table when the slot is destroyed or evicted. Destroy
  // it before closing the socket it was admitted with.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    ~Slot();

    // The connection made progress (a whole request read, a response written): it is not quiet.
    void touch(Clock::time_point now = Clock::now());
    explicit operator bool() const { return table_ != nullptr; }

   private:
    friend class ConnectionTable;
    Slot(ConnectionTable* table, std::uint64_t id) : table_(table), id_(id) {}
    void release();

    ConnectionTable* table_ = nullptr;
    std::uint64_t id_ = 0;
  };

  struct Admission {
    Slot slot;             // empty: refused, every slot is busy
    bool evicted = false;  // a quiet connection was shut down to make room
  };

  // Admits the connection on descriptor `fd`, evicting the quietest one at the limit if it may.
  Admission admit(int fd, Clock::time_point now = Clock::now());

  std::size_t size() const;
  std::size_t limit() const { return limit_; }

 private:
  struct Entry {
    int fd;
    Clock::time_point last_progress;  // admission, or the last touch
  };

  void remove(std::uint64_t id);
  void touch(std::uint64_t id, Clock::time_point now);
  void publish();  // under mutex_

  const std::size_t limit_;
  const Clock::duration min_quiet_;
  prometheus::Gauge* const open_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::uint64_t next_id_ = 1;
};

}  // namespace leakwatch::exporter
