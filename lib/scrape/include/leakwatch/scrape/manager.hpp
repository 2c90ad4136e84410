#pragma once
// Turns a configuration into running poll loops, and keeps them in step with config reloads and service
// discovery: loops whose target and settings are unchanged keep running (and keep their series); vanished or
// changed ones are stopped, and their series removed, before their successors start (as Prometheus' scrape
// pool sync does). Each job's targets are its static_configs plus what its providers (one per
// file_sd_configs / kubernetes_sd_configs entry) currently report; with sharding, only this replica's share.

#include "leakwatch/config/config.hpp"
#include "leakwatch/discovery/providers.hpp"
#include "leakwatch/discovery/shard.hpp"
#include "leakwatch/discovery/target_group.hpp"
#include "leakwatch/scrape/loop.hpp"
#include "leakwatch/scrape/detection_metrics.hpp"
#include "leakwatch/scrape/metrics.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace leakwatch::scrape {

// What each job's providers currently report, by job name, in the order of the job's sd configs.
using DiscoveredGroups = std::map<std::string, std::vector<discovery::TargetGroup>>;

// The loop settings for every target of a config, in config order: each job's static targets, then its
// discovered ones. A (job, target) pair is planned once (the first occurrence wins), and only if it falls in
// `shard`. A group's profile_path, when set, overrides the job's. Pure; exposed for tests.
std::vector<LoopSettings> plan_targets(const config::Config& config, const DiscoveredGroups& discovered = {},
                                       discovery::Shard shard = {});

struct ManagerOptions {
  discovery::Shard shard;                // poll only this replica's share of the targets
  discovery::ProviderFactory providers;  // empty: discovery::make_provider (tests plug in fakes)
};

class Manager : public std::enable_shared_from_this<Manager> {
 public:
  Manager(boost::asio::io_context& io, prometheus::Registry& registry, ManagerOptions options = {});

  // Applies a validated config; `done` runs once the new set of loops is running. Thread-safe.
  void apply(std::shared_ptr<const config::Config> config, std::function<void()> done = {});

  // Stops every provider and loop; `done` runs when all have stopped. Thread-safe.
  void stop(std::function<void()> done);

  // Number of running loops (for readiness and tests). Thread-safe.
  std::size_t target_count() const noexcept { return target_count_.load(); }

 private:
  // A running provider of one sd config of one job, and the groups it last reported.
  struct ProviderEntry {
    discovery::SdConfig config;
    std::shared_ptr<discovery::Provider> provider;  // nullptr when none could be made (logged)
    std::vector<discovery::TargetGroup> groups;
    std::uint64_t id = 0;  // tells a replaced provider's late updates apart
  };

  void update_providers(const config::Config& config);
  void on_discovery(const std::string& key, std::uint64_t id, std::vector<discovery::TargetGroup> groups);
  DiscoveredGroups discovered() const;
  // Syncs are serialized: one requested while another waits for stopping loops runs after it, planned from
  // the state at that time. `done` runs once a sync that started after this call has finished.
  void request_sync(std::function<void()> done);
  void run_sync();
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
  ManagerOptions options_;
  std::map<std::string, ProviderEntry> providers_;  // by job + kind + index of the sd config
  std::uint64_t next_provider_id_ = 1;
  bool syncing_ = false;
  bool resync_ = false;                             // a sync was requested while one ran
  std::vector<std::function<void()>> waiting_;      // `done`s of the requested sync
  std::map<std::string, prometheus::Gauge*> known_services_;  // leakwatch_targets series by service
  std::atomic<std::size_t> target_count_{0};
  bool stopped_ = false;
};

}  // namespace leakwatch::scrape
