#pragma once
// Bounded gzip inflation. Used for Content-Encoding: gzip bodies and, later, debug=0 profiles. The limit
// is enforced while inflating, so a gzip bomb costs at most `limit` bytes of memory.

#include <cstdint>
#include <string>
#include <string_view>

namespace leakwatch::common {

enum class InflateStatus { ok, too_large, corrupt, truncated };

struct InflateResult {
  InflateStatus status = InflateStatus::ok;
  std::string out;    // what was inflated (complete when ok)
  std::string error;  // set unless ok
};

inline bool is_gzip(std::string_view bytes) noexcept {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// Inflates one or more concatenated gzip members (RFC 1952), producing at most `limit` bytes.
InflateResult gunzip(std::string_view in, std::uint64_t limit);

// Compresses into one gzip member (used for /metrics responses when the scraper accepts gzip).
std::string gzip(std::string_view in);

}  // namespace leakwatch::common
