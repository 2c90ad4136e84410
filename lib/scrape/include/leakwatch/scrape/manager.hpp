#pragma once
// Turns a configuration into running poll loops, and keeps them in step with config reloads and service
// discovery: loops whose target and settings are unchanged keep running (and keep their series); vanished or
// changed ones are stopped, and their series removed, before their successors start (as Prometheus' scrape
// pool sync does). Each job's targets are its static_configs plus what its providers (one per
// file_sd_configs / kubernetes_sd_configs entry) currently report; with sharding, only this replica's share.
// A loop that dies of an exception is counted and replaced by a fresh one.

#include "leakwatch/common/clock.hpp"
#include "leakwatch/common/fetcher.hpp"
#include "leakwatch/config/config.hpp"
#include "leakwatch/discovery/providers.hpp"
#include "leakwatch/discovery/shard.hpp"
#include "leakwatch/discovery/target_group.hpp"
#include "leakwatch/http/resolver.hpp"
#include "leakwatch/http/tls.hpp"
#include "leakwatch/scrape/loop.hpp"
#include "leakwatch/scrape/series.hpp"

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}
namespace prometheus {
class Registry;
}

namespace leakwatch::scrape {

// What each job's providers currently report, by job name, in the order of the job's sd configs.
using DiscoveredGroups = std::map<std::string, std::vector<discovery::TargetGroup>>;

// The loop settings for every target of a config, in config order: each job's static targets, then its
// discovered ones. A (job, target) pair is planned once (the first occurrence wins), and only if it falls in
// `shard`. A group's profile_path, when set, overrides the job's. Pure; exposed for tests.
std::vector<LoopSettings> plan_targets(const config::Config& config, const DiscoveredGroups& discovered = {},
                                       discovery::Shard shard = {});

// Makes the fetcher of one target; `tls` is the job's context (null for http jobs, or when it could not be
// made).
using FetcherFactory =
    std::function<std::unique_ptr<common::Fetcher>(boost::asio::io_context& io, const LoopSettings& settings,
                                                   std::shared_ptr<http::TlsContext> tls)>;

struct ManagerOptions {
  discovery::Shard shard;                    // poll only this replica's share of the targets
  discovery::ProviderFactory providers;      // empty: discovery::make_provider (tests plug in fakes)
  FetcherFactory fetchers;                   // empty: HTTP fetchers (tests plug in fakes)
  std::shared_ptr<http::Resolver> resolver;  // empty: one of the manager's own
  common::Clock* clock = nullptr;            // empty: SystemClock
};

class Manager {
 public:
  // `registry` gets leakwatch_targets and leakwatch_internal_errors_total{component="scrape"}; `series` the
  // targets' series. Both must outlive the io_context's handlers (the daemon declares them first).
  Manager(boost::asio::io_context& io, prometheus::Registry& registry, std::shared_ptr<SeriesSet> series,
          ManagerOptions options = {});
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Applies a validated config; `done` runs once the new set of loops is running. Thread-safe.
  void apply(std::shared_ptr<const config::Config> config, std::function<void()> done = {});

  // Stops every provider and loop; `done` runs when all have stopped. Thread-safe.
  void stop(std::function<void()> done);

  // Number of running loops (for readiness and tests). Thread-safe.
  std::size_t target_count() const noexcept;

  // Loops replaced after an exception ended them. Thread-safe.
  std::size_t restarts() const noexcept;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace leakwatch::scrape
