#pragma once
// The one error convention. Expected failures are values, not exceptions: a function that can fail on bad
// input, the network or the file system returns Result<T>. Its Error carries a code from a small fixed set,
// which callers branch on, and a short human-readable message (with a position for parsers), which callers
// only show. Never branch on the message's text.

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace leakwatch::common {

enum class Errc : std::uint8_t {
  invalid,      // malformed input: a profile, a document, a flag or config value
  not_found,    // a file or resource that does not exist
  io,           // reading or writing failed
  too_large,    // over a configured limit
  timeout,      // a deadline passed
  connect,      // resolving, connecting, the TLS handshake or the connection itself failed
  http_status,  // the peer answered with a status other than the one expected
  gone,         // the peer no longer has what was asked for (Kubernetes' 410 Gone)
  cancelled,    // stopped on request, not a failure of the peer
  unsupported,  // well-formed but not something this build handles
};

constexpr std::string_view errc_name(Errc c) noexcept {
  switch (c) {
    case Errc::invalid: return "invalid";
    case Errc::not_found: return "not_found";
    case Errc::io: return "io";
    case Errc::too_large: return "too_large";
    case Errc::timeout: return "timeout";
    case Errc::connect: return "connect";
    case Errc::http_status: return "http_status";
    case Errc::gone: return "gone";
    case Errc::cancelled: return "cancelled";
    case Errc::unsupported: return "unsupported";
  }
  return "unknown";
}

struct Error {
  Errc code = Errc::invalid;
  std::string message;

  Error() = default;
  // Parsers' errors: malformed input is by far the most common kind.
  explicit Error(std::string m) : message(std::move(m)) {}
  Error(Errc c, std::string m) : code(c), message(std::move(m)) {}
};

inline std::ostream& operator<<(std::ostream& os, const Error& e) { return os << e.message; }

// Called by result<T, Error>::value() when it holds an error; found by ADL.
[[noreturn]] inline void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace leakwatch::common
