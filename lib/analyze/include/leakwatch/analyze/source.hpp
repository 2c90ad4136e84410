#pragma once
// Where `leakwatch analyze` gets its bytes: a file, standard input, or one HTTP(S) GET made with the
// daemon's own HTTP client (lib/http: gzip, body limit, one deadline for the whole request).

#include "leakwatch/common/error.hpp"
#include "leakwatch/http/client.hpp"
#include "leakwatch/pprof/profile.hpp"

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace leakwatch::analyze {

// True when `source` starts with "http://" or "https://" (scheme case-insensitive).
bool is_url(std::string_view source) noexcept;

// The endpoint for an http(s) URL. No path (or "/") means /debug/pprof/goroutine. A query without a
// `debug` parameter gets one: the requested format's level, or debug=1 for auto (grouped text: cheap for
// the target, unlike debug=2's stop-the-world dump). A `debug` the URL already has is kept as given
// (auto then detects what came back; an explicit format must match it). Credentials in the URL are
// refused rather than silently dropped; the fragment is ignored.
struct UrlTarget {
  http::Endpoint endpoint;
  std::string path;  // path and query
};
common::Result<UrlTarget> endpoint_from_url(std::string_view url, std::optional<pprof::Format> format);

// The body of a successful (200) GET, inflated if the server gzip'd it.
common::Result<std::string> fetch_url(const UrlTarget& url, std::chrono::milliseconds timeout, std::uint64_t max_bytes);

// The bytes of `source`: "-" reads `in`, a URL is fetched, anything else is a file. More than
// `max_bytes` is an error.
common::Result<std::string> read_source(std::string_view source, std::optional<pprof::Format> format, std::istream& in,
                                        std::chrono::milliseconds timeout, std::uint64_t max_bytes);

}  // namespace leakwatch::analyze
