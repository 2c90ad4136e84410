#pragma once
// Stable 64-bit hashing (FNV-1a). Stable across runs, builds and machines, unlike std::hash, so it can
// drive schedule offsets and shard assignment.

#include <cstdint>
#include <string_view>

namespace leakwatch::common {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

constexpr std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = kFnvOffset) noexcept {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

// Mixes a 64-bit value into well-spread bits (SplitMix64 finalizer); FNV alone leaves the low bits weak
// for short, similar keys such as "127.0.0.1:6060" and "127.0.0.1:6061".
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

constexpr std::uint64_t stable_hash(std::string_view bytes) noexcept { return mix64(fnv1a(bytes)); }

}  // namespace leakwatch::common
