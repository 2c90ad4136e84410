#pragma once
// The bytes behind a Profile's frames. A parser interns each distinct function name and file once, and
// every Frame views them: a profile of 2,000 stacks of 24 frames names perhaps a few dozen functions,
// and copying those names per frame (two heap allocations each) used to cost more than reading the text.

#include "leakwatch/common/hash.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace leakwatch::pprof {

class StringPool {
 public:
  StringPool() = default;
  // Views handed out point into blocks_, so the pool is neither copied nor moved (hold it by pointer).
  StringPool(const StringPool&) = delete;
  StringPool& operator=(const StringPool&) = delete;

  // A view of a copy of `s` that lives as long as the pool. Equal strings get the same view (so equal
  // data() pointers mean equal strings), except past a long run of hash collisions, which only a
  // crafted body causes: then `s` is copied again, unshared, rather than compared with all the others.
  std::string_view intern(std::string_view s);

  std::size_t size() const noexcept { return count_; }  // distinct strings in the index
  // Heap bytes held: blocks and the index.
  std::size_t memory_bytes() const noexcept;

 private:
  struct Slot {
    const char* data = nullptr;  // nullptr: empty slot
    std::size_t size = 0;
    std::size_t hash = 0;  // compared first, to skip most byte compares; and for regrowing
  };

  std::string_view store(std::string_view s);
  void grow();

  std::vector<Slot> slots_;  // open addressing, linear probing, power-of-two size
  std::size_t count_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::size_t block_bytes_ = 0;  // bytes allocated in blocks_
  char* next_ = nullptr;         // free space in the last block
  std::size_t left_ = 0;
};

// Views of one pool's strings are equal exactly when they are the same view (same data() and size()),
// so tables keyed by interned (function, file) pairs hash and compare them by address, without reading
// a byte. Views from elsewhere (string literals) still key correctly: equal views are equal strings.
inline bool same_view(std::string_view a, std::string_view b) noexcept {
  return a.data() == b.data() && a.size() == b.size();
}

inline std::uint64_t hash_view_pair(std::string_view a, std::string_view b) noexcept {
  const auto x = reinterpret_cast<std::uintptr_t>(a.data()) ^ (std::uint64_t{a.size()} << 48);
  const auto y = reinterpret_cast<std::uintptr_t>(b.data()) ^ (std::uint64_t{b.size()} << 48);
  return common::mix64(x ^ common::mix64(y));
}

}  // namespace leakwatch::pprof
