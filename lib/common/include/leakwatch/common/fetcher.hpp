#pragma once
// The poll loop's other seam (as Prometheus' `scraper`): what fetches one profile. The daemon's fetcher is an
// HTTP client (lib/http); tests plug in fakes that answer from a script, so a loop runs without sockets.

#include "leakwatch/common/clock.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace leakwatch::common {

// The fixed set of poll results; each is a value of the `result` label of leakwatch_scrapes_total.
// auth_error: the credentials could not be read (a missing or unreadable password, token or header file),
// so nothing was sent; unauthorized: the target answered 401 or 403 (other statuses are http_error).
enum class Outcome { success, timeout, connect_error, http_error, parse_error, too_large, auth_error, unauthorized };

inline constexpr std::array<Outcome, 8> kAllOutcomes{Outcome::success,    Outcome::timeout,     Outcome::connect_error,
                                                     Outcome::http_error, Outcome::parse_error, Outcome::too_large,
                                                     Outcome::auth_error, Outcome::unauthorized};

constexpr std::string_view outcome_name(Outcome o) noexcept {
  switch (o) {
    case Outcome::success: return "success";
    case Outcome::timeout: return "timeout";
    case Outcome::connect_error: return "connect_error";
    case Outcome::http_error: return "http_error";
    case Outcome::parse_error: return "parse_error";
    case Outcome::too_large: return "too_large";
    case Outcome::auth_error: return "auth_error";
    case Outcome::unauthorized: return "unauthorized";
  }
  return "unknown";
}

struct FetchResult {
  Outcome outcome = Outcome::connect_error;
  unsigned status = 0;  // HTTP status when a response head was read
  std::string body;     // the decoded (inflated) body on success; the start of it on an HTTP error
  std::string error;    // short reason unless success; never contains secrets
  bool reused_connection = false;
};

// What one fetch asks for.
struct FetchRequest {
  std::string_view target;       // path and query, e.g. /debug/pprof/goroutine?debug=1
  std::uint64_t body_limit = 0;  // the body's size limit (after inflating too); 0: the fetcher's own
};

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // One fetch of `request.target` from the fetcher's endpoint, bounded by `deadline`. The loop names the
  // target on each call because it polls more than one profile of the same process over one connection (the
  // goroutine profile; debug=2 of it on a slower cadence, with its own size limit; the goroutineleak proof). `done` is
  // called exactly once, from the fetcher's io_context and never from inside this call, also when cancel() ended the
  // fetch (the result then says so). Never throws for network or protocol trouble: that is reported in the result. One
  // fetch at a time.
  virtual void fetch(const FetchRequest& request, SteadyTime deadline, std::function<void(FetchResult)> done) = 0;
  // Aborts the fetch in progress, if any. Safe to call at any time from the fetcher's strand.
  virtual void cancel() noexcept = 0;
};

}  // namespace leakwatch::common
