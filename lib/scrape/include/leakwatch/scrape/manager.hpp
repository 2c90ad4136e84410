#pragma once
// Turns a configuration into running poll loops, and keeps them in step with config reloads: loops whose
// target and settings are unchanged keep running; vanished or changed ones are stopped, and their series
// removed, before their successors start (as Prometheus' scrape pool sync does).

#include "leakwatch/config/config.hpp"
#include "leakwatch/scrape/loop.hpp"
#include "leakwatch/scrape/detection_metrics.hpp"
#include "leakwatch/scrape/metrics.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace leakwatch::scrape {

// The loop settings for every target of a config, in config order. Pure; exposed for tests.
std::vector<LoopSettings> plan_targets(const config::Config& config);

class Manager : public std::enable_shared_from_this<Manager> {
 public:
  Manager(boost::asio::io_context& io, prometheus::Registry& registry);

  // Applies a validated config; `done` runs once the new set of loops is running. Thread-safe.
  void apply(std::shared_ptr<const config::Config> config, std::function<void()> done = {});

  // Stops every loop; `done` runs when all have stopped. Thread-safe.
  void stop(std::function<void()> done);

  // Number of running loops (for readiness and tests). Thread-safe.
  std::size_t target_count() const noexcept { return target_count_.load(); }

 private:
  void sync(std::vector<LoopSettings> wanted, std::function<void()> done);
  void start_loops(std::vector<LoopSettings> settings);
  std::shared_ptr<boost::asio::ssl::context> tls_context(const config::ScrapeConfig& job);

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  ScrapeMetrics metrics_;
  DetectionMetrics detection_metrics_;
  std::map<std::string, std::shared_ptr<Loop>> loops_;  // by service + target
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> tls_;  // by service, for the current config
  std::shared_ptr<const config::Config> config_;
  std::map<std::string, prometheus::Gauge*> known_services_;  // leakwatch_targets series by service
  std::atomic<std::size_t> target_count_{0};
  bool stopped_ = false;
};

}  // namespace leakwatch::scrape
