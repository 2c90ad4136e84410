#include "leakwatch/pprof/string_pool.hpp"

#include <cstring>
#include <functional>

namespace leakwatch::pprof {
namespace {

// Most names fit many to a block (a small profile names a few KB); a longer string, bounded by the
// parsers' line limit, gets its own.
constexpr std::size_t kBlockBytes = 4 * 1024;
constexpr std::size_t kInitialSlots = 64;
// Longest probe sequence looked at. At most half full, a fair hash needs a handful; a body crafted so
// that its names collide would otherwise make every intern walk all the others (quadratic time), so
// past this the string is stored again instead of shared: bounded work, at some memory.
constexpr std::size_t kMaxProbes = 32;

}  // namespace

std::string_view StringPool::intern(std::string_view s) {
  if (s.empty()) {
    return {};
  }
  // std::hash is not stable across builds, which does not matter here: nothing outside this process
  // ever sees these hashes.
  const std::size_t h = std::hash<std::string_view>{}(s);
  if (slots_.empty()) {
    slots_.resize(kInitialSlots);
  }
  std::size_t mask = slots_.size() - 1;
  std::size_t probes = 0;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.data == nullptr) {
      break;
    }
    if (slot.hash == h && slot.size == s.size() && std::memcmp(slot.data, s.data(), s.size()) == 0) {
      return {slot.data, slot.size};
    }
    if (++probes == kMaxProbes) {
      return store(s);
    }
  }
  if (2 * (count_ + 1) > slots_.size()) {
    grow();
    mask = slots_.size() - 1;
  }
  const std::string_view stored = store(s);
  std::size_t i = h & mask;
  for (std::size_t walked = 0; slots_[i].data != nullptr; i = (i + 1) & mask) {
    if (++walked == kMaxProbes) {
      return stored;  // kept, but not indexed
    }
  }
  slots_[i] = Slot{stored.data(), stored.size(), h};
  ++count_;
  return stored;
}

std::string_view StringPool::store(std::string_view s) {
  if (s.size() > kBlockBytes / 4) {
    // A long string gets a block of its own, so the current block keeps its free space.
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(s.size()));
    block_bytes_ += s.size();
    std::memcpy(blocks_.back().get(), s.data(), s.size());
    return {blocks_.back().get(), s.size()};
  }
  if (s.size() > left_) {
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(kBlockBytes));
    block_bytes_ += kBlockBytes;
    next_ = blocks_.back().get();
    left_ = kBlockBytes;
  }
  std::memcpy(next_, s.data(), s.size());
  const std::string_view stored{next_, s.size()};
  next_ += s.size();
  left_ -= s.size();
  return stored;
}

void StringPool::grow() {
  std::vector<Slot> slots(slots_.size() * 2);
  const std::size_t mask = slots.size() - 1;
  for (const Slot& slot : slots_) {
    if (slot.data == nullptr) continue;
    std::size_t i = slot.hash & mask;
    std::size_t probes = 0;
    while (slots[i].data != nullptr && probes < kMaxProbes) {
      i = (i + 1) & mask;
      ++probes;
    }
    if (probes == kMaxProbes) {
      --count_;  // dropped from the index: a later equal string is stored again, never lost
      continue;
    }
    slots[i] = slot;
  }
  slots_ = std::move(slots);
}

std::size_t StringPool::memory_bytes() const noexcept {
  return block_bytes_ + slots_.capacity() * sizeof(Slot) + blocks_.capacity() * sizeof(blocks_[0]);
}

}  // namespace leakwatch::pprof
