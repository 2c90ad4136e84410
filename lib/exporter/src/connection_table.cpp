#include "connection_table.hpp"

#include <sys/socket.h>

#include <utility>

namespace leakwatch::exporter {

ConnectionTable::ConnectionTable(std::size_t limit, Clock::duration min_quiet, prometheus::Gauge* open)
    : limit_(limit), min_quiet_(min_quiet), open_(open) {
  if (open_ != nullptr) open_->Set(0);
}

ConnectionTable::Admission ConnectionTable::admit(int fd, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Admission result;
  if (entries_.size() >= limit_) {
    // A linear scan: it runs only at the limit, over at most `limit_` entries, and keeps admission and
    // progress O(1) in the common case.
    auto quietest = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (quietest == entries_.end() || it->second.last_progress < quietest->second.last_progress) quietest = it;
    }
    if (quietest == entries_.end() || now - quietest->second.last_progress < min_quiet_) return result;
    ::shutdown(quietest->second.fd, SHUT_RDWR);
    entries_.erase(quietest);
    result.evicted = true;
  }
  const std::uint64_t id = next_id_++;
  entries_.emplace(id, Entry{fd, now});
  publish();
  result.slot = Slot(this, id);
  return result;
}

std::size_t ConnectionTable::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void ConnectionTable::remove(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  if (entries_.erase(id) != 0) publish();  // an evicted slot has already left
}

void ConnectionTable::touch(std::uint64_t id, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(id); it != entries_.end()) it->second.last_progress = now;
}

void ConnectionTable::publish() {
  if (open_ != nullptr) open_->Set(static_cast<double>(entries_.size()));
}

ConnectionTable::Slot::Slot(Slot&& other) noexcept
    : table_(std::exchange(other.table_, nullptr)), id_(std::exchange(other.id_, 0)) {}

ConnectionTable::Slot& ConnectionTable::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    release();
    table_ = std::exchange(other.table_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

ConnectionTable::Slot::~Slot() { release(); }

void ConnectionTable::Slot::touch(Clock::time_point now) {
  if (table_ != nullptr) table_->touch(id_, now);
}

void ConnectionTable::Slot::release() {
  if (table_ != nullptr) std::exchange(table_, nullptr)->remove(id_);
}

}  // namespace leakwatch::exporter
