#pragma once
// Sharding for scale-out: N replicas (--shard.total=N, --shard.index=I) over the same config each poll only
// the targets whose stable hash falls in their shard, so every target is polled by exactly one replica.

#include <optional>
#include <string>
#include <string_view>

namespace leakwatch::discovery {

struct Shard {
  unsigned total = 1;  // 1 = no sharding: every target is in shard 0
  unsigned index = 0;  // 0 <= index < total

  friend bool operator==(const Shard&, const Shard&) = default;
};

// The key a target is sharded by: "job/host:port", the target as configured or discovered.
std::string shard_key(std::string_view job, std::string_view target);

// stable_hash(key) % total; stable across runs, builds and machines. total 0 is treated as 1.
unsigned shard_of(std::string_view key, unsigned total) noexcept;

// Whether `key` belongs to shard `index` of `total`.
bool in_shard(std::string_view key, unsigned total, unsigned index) noexcept;

// The ordinal of a StatefulSet pod from its hostname: "leakwatch-2" -> 2. nullopt when the name does not end
// in "-<digits>" (or the number does not fit).
std::optional<unsigned> ordinal_from_hostname(std::string_view hostname) noexcept;

}  // namespace leakwatch::discovery
