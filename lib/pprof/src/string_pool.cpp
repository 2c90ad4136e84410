#include "leakwatch/pprof/string_pool.hpp"

#include <cstring>
#include <functional>

namespace leakwatch::pprof {
namespace {

// Most names fit many to a block (a small profile names a few KB); a longer string, bounded by the
// parsers' line limit, gets its own.
constexpr std::size_t kBlockBytes = 4 * 1024;
constexpr std::size_t kInitialSlots = 64;

}  // namespace

std::string_view StringPool::intern(std::string_view s) {
  if (s.empty()) {
    return {};
  }
  // std::hash is not stable across builds, which does not matter here: nothing outside this process
  // ever sees these hashes (signatures use common::stable_hash).
  const std::size_t h = std::hash<std::string_view>{}(s);
  if (slots_.empty()) {
    slots_.resize(kInitialSlots);
  }
  std::size_t mask = slots_.size() - 1;
  const auto low = static_cast<std::uint32_t>(h);
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.data == nullptr) {
      break;
    }
    if (slot.hash == low && slot.size == s.size() && std::memcmp(slot.data, s.data(), s.size()) == 0) {
      return {slot.data, slot.size};
    }
  }
  if (2 * (count_ + 1) > slots_.size()) {
    grow();
    mask = slots_.size() - 1;
  }
  const std::string_view stored = store(s);
  std::size_t i = h & mask;
  while (slots_[i].data != nullptr) {
    i = (i + 1) & mask;
  }
  // Strings come from lines bounded by Limits::max_line_bytes, far below 4 GiB.
  slots_[i] = Slot{stored.data(), static_cast<std::uint32_t>(stored.size()), low};
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
  // The slots keep the hash's low 32 bits, all the index needs below 2^32 slots.
  std::vector<Slot> slots(slots_.size() * 2);
  const std::size_t mask = slots.size() - 1;
  for (const Slot& slot : slots_) {
    if (slot.data == nullptr) continue;
    std::size_t i = slot.hash & mask;
    while (slots[i].data != nullptr) {
      i = (i + 1) & mask;
    }
    slots[i] = slot;
  }
  slots_ = std::move(slots);
}

std::size_t StringPool::memory_bytes() const noexcept {
  return block_bytes_ + slots_.capacity() * sizeof(Slot) + blocks_.capacity() * sizeof(blocks_[0]);
}

}  // namespace leakwatch::pprof
