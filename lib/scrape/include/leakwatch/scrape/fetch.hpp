#pragma once
// What one poll of a target's profile endpoint produces, independent of how it was fetched.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace leakwatch::scrape {

// The fixed set of poll results; each is a value of the `result` label of leakwatch_scrapes_total.
enum class Outcome { success, timeout, connect_error, http_error, parse_error, too_large };

inline constexpr std::array<Outcome, 6> kAllOutcomes{Outcome::success,    Outcome::timeout,
                                                     Outcome::connect_error, Outcome::http_error,
                                                     Outcome::parse_error, Outcome::too_large};

constexpr std::string_view outcome_name(Outcome o) noexcept {
  switch (o) {
    case Outcome::success: return "success";
    case Outcome::timeout: return "timeout";
    case Outcome::connect_error: return "connect_error";
    case Outcome::http_error: return "http_error";
    case Outcome::parse_error: return "parse_error";
    case Outcome::too_large: return "too_large";
  }
  return "unknown";
}

struct FetchResult {
  Outcome outcome = Outcome::connect_error;
  unsigned status = 0;     // HTTP status when a response head was read
  std::string body;        // decoded (inflated) body on success
  std::string error;       // short reason unless success; never contains secrets
  bool reused_connection = false;
};

// Where and how to fetch one target's profile.
struct Endpoint {
  std::string host;         // name or IP literal (IPv6 without brackets)
  std::string port;
  std::string host_header;  // "host:port" as configured (brackets kept for IPv6)
  std::string path;         // path and query, e.g. "/debug/pprof/goroutine?debug=1"
  bool https = false;
  bool tls_verify = true;   // verify the certificate chain and the server name
  std::string server_name;  // TLS SNI and verification name; defaults to host

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

}  // namespace leakwatch::scrape
