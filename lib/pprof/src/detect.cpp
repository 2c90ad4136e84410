// Format sniffing from the first bytes only, so a misconfigured target (debug=2 URL with format debug1,
// an HTML error page from a proxy) gets a precise error instead of a confusing parse failure deep inside.

#include "leakwatch/pprof/parser.hpp"

#include <string_view>

namespace leakwatch::pprof {

std::optional<Format> detect_format(std::string_view bytes) noexcept {
  // debug=0 is always gzip'd (runtime/pprof compresses the proto unconditionally).
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
      static_cast<unsigned char>(bytes[1]) == 0x8b) {
    return Format::debug0;
  }
  if (bytes.starts_with("goroutine profile:") || bytes.starts_with("goroutineleak profile:")) {
    return Format::debug1;
  }
  // debug=2 starts with the first goroutine's header, "goroutine 1 [running]:".
  constexpr std::string_view kDebug2Prefix = "goroutine ";
  if (bytes.size() > kDebug2Prefix.size() && bytes.starts_with(kDebug2Prefix)) {
    const char c = bytes[kDebug2Prefix.size()];
    if (c >= '0' && c <= '9') {
      return Format::debug2;
    }
  }
  return std::nullopt;
}

}  // namespace leakwatch::pprof
