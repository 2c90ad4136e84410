#pragma once
// One target's poll loop: a timer on its own strand, the fetcher, the parser and the target's series.
// Everything a Loop owns is touched only from its strand. The running coroutine holds shared_from_this(),
// so a Loop lives as long as it has work pending.

#include "leakwatch/common/duration.hpp"
#include "leakwatch/detect/detector.hpp"
#include "leakwatch/pprof/parser.hpp"
#include "leakwatch/scrape/detection_metrics.hpp"
#include "leakwatch/scrape/http_fetcher.hpp"
#include "leakwatch/scrape/metrics.hpp"
#include "leakwatch/scrape/schedule.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace spdlog {
class logger;
}

namespace leakwatch::scrape {

struct LoopSettings {
  std::string service;            // job_name
  std::string target;             // host:port as configured
  prometheus::Labels labels;      // service, target and static labels
  common::Duration interval{15'000};
  common::Duration timeout{10'000};
  pprof::Format format = pprof::Format::debug1;
  pprof::ProfileKind kind = pprof::ProfileKind::goroutine;  // a body of the other kind is a parse error
  pprof::Limits limits;
  Endpoint endpoint;
  std::uint64_t body_limit = 64ull << 20;
  std::string tls_ca_file;        // part of the settings so that a changed CA restarts the loop
  detect::Options detection;      // changed settings restart the loop, and with it the statistics

  friend bool operator==(const LoopSettings&, const LoopSettings&) = default;
};

class Loop : public std::enable_shared_from_this<Loop> {
 public:
  Loop(boost::asio::io_context& io, LoopSettings settings, std::shared_ptr<boost::asio::ssl::context> tls,
       ScrapeMetrics& metrics, DetectionMetrics& detection_metrics);

  // Starts polling at the target's offset. Call once.
  void start();

  // Stops polling: cancels the timer and any poll in flight, removes the target's series, then calls
  // `on_stopped` (from the loop's strand). Safe to call from any thread, more than once.
  void stop(std::function<void()> on_stopped);

  const LoopSettings& settings() const noexcept { return settings_; }

 private:
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> poll_once();
  void finish();
  void log_alert(const detect::Event& event);

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  LoopSettings settings_;
  boost::asio::steady_timer timer_;
  HttpFetcher fetcher_;
  std::optional<TargetSeries> series_;
  detect::TargetDetector detector_;
  std::optional<DetectionSeries> detection_series_;
  std::shared_ptr<spdlog::logger> log_;
  bool stopping_ = false;
  bool running_ = false;
  bool last_ok_ = true;  // for logging only state changes, not every failed poll
  std::vector<std::function<void()>> on_stopped_;
};

}  // namespace leakwatch::scrape
