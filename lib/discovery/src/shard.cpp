#include "leakwatch/discovery/shard.hpp"

#include "leakwatch/common/hash.hpp"

namespace leakwatch::discovery {

std::string shard_key(std::string_view job, std::string_view target) {
  std::string key;
  key.reserve(job.size() + 1 + target.size());
  key.append(job).append("/").append(target);
  return key;
}

unsigned shard_of(std::string_view key, unsigned total) noexcept {
  if (total <= 1) return 0;
  return static_cast<unsigned>(common::stable_hash(key) % total);
}

bool in_shard(std::string_view key, unsigned total, unsigned index) noexcept { return shard_of(key, total) == index; }

std::optional<unsigned> ordinal_from_hostname(std::string_view hostname) noexcept {
  const auto dash = hostname.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == hostname.size()) return std::nullopt;
  const std::string_view digits = hostname.substr(dash + 1);
  if (digits.size() > 9) return std::nullopt;
  unsigned n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  return n;
}

}  // namespace leakwatch::discovery
