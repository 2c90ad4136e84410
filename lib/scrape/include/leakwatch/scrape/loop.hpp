#pragma once
// One target's poll loop: a timer, the fetcher, the profile step and the target's series, on a strand of
// its own. The seams are interfaces (common::Fetcher, common::Clock), so tests drive a loop with a fake
// fetcher and a manual clock: no sockets, no sleeps.
//
// Every callback a loop hands out holds the loop's state, so the state lives as long as it has work
// pending. The header names no Asio or Beast type beyond a forward declaration.

#include "leakwatch/common/clock.hpp"
#include "leakwatch/common/duration.hpp"
#include "leakwatch/common/fetcher.hpp"
#include "leakwatch/detect/options.hpp"
#include "leakwatch/detect/process.hpp"
#include "leakwatch/http/client.hpp"
#include "leakwatch/scrape/series.hpp"

#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace leakwatch::scrape {

// The runtime's proof beside a goroutine job (config::LeakProofConfig, resolved for one target).
struct LeakProofSettings {
  enum class Poll : unsigned char { never, auto_detect, always };
  Poll poll = Poll::never;
  common::Duration interval{30 * 60'000};
  std::string target = "/debug/pprof/goroutineleak?debug=1";  // path and query

  friend bool operator==(const LeakProofSettings&, const LeakProofSettings&) = default;
};

// Adaptive debug=2 beside a debug1 or debug0 job (config::Debug2Config, resolved for one target).
struct Debug2Settings {
  common::Duration interval{0};  // 0: never
  common::Duration min_interval{60'000};
  std::uint64_t max_goroutines = 10'000;
  std::uint64_t max_bytes = 16ull << 20;
  std::string target;  // path and query, e.g. /debug/pprof/goroutine?debug=2

  friend bool operator==(const Debug2Settings&, const Debug2Settings&) = default;
};

struct LoopSettings {
  std::string service;  // job_name
  std::string target;   // host:port as configured
  LabelMap labels;      // service, target and static labels
  common::Duration interval{15'000};
  common::Duration timeout{10'000};
  detect::ProfileSettings profile;  // format (always set here), kind and parser limits
  http::Endpoint endpoint;
  http::Request request;       // path and query, e.g. /debug/pprof/goroutine?debug=1, and the body limit
  http::TlsClientOptions tls;  // part of the settings so that a changed CA or client certificate restarts the loop
  http::AuthSettings auth;     // credentials; secret files are re-read by the fetcher, not by a restart
  detect::Options detection;   // changed settings restart the loop, and with it the statistics
  LeakProofSettings leak_proof;
  Debug2Settings debug2;
  std::string workload;  // workload_key(): whose priors the loop starts from and leaves behind

  friend bool operator==(const LoopSettings&, const LoopSettings&) = default;
};

struct LoopHooks {
  // An exception ended the loop (a bug: errors are values). `what` says what it was. The loop has removed its
  // series and will do nothing more; the owner counts it and starts a successor.
  std::function<void(const std::string& what)> on_crash;
  // The loop ends (stopped or crashed): what its detector learned that outlives the target
  // (detect::TargetDetector::priors()), for the workload's next target. Called from the loop's strand,
  // before the stop callbacks.
  std::function<void(detect::Priors)> on_finished;
};

class Loop {
 public:
  // `priors`: what earlier targets of the workload learned (the detector starts from them).
  Loop(boost::asio::io_context& io, LoopSettings settings, std::unique_ptr<common::Fetcher> fetcher,
       std::shared_ptr<TargetSeries> series, common::Clock& clock, LoopHooks hooks = {}, detect::Priors priors = {});
  ~Loop();  // does not stop the loop: call stop()
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Starts polling at the target's offset (schedule.hpp). A loop stopped before it started never polls.
  void start();

  // Stops polling: cancels the timer and any poll in flight, removes the target's series, then calls
  // `on_stopped` (from the loop's strand). Safe to call from any thread, more than once.
  void stop(std::function<void()> on_stopped);

  const LoopSettings& settings() const noexcept;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace leakwatch::scrape
