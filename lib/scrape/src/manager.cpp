#include "leakwatch/scrape/manager.hpp"

#include "leakwatch/common/log.hpp"
#include "leakwatch/scrape/workload.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <set>

namespace leakwatch::scrape {
namespace asio = boost::asio;
using common::Field;

namespace {

std::string loop_key(const LoopSettings& s) { return s.service + '\x1f' + s.target; }

http::AuthSettings auth_settings(const config::ScrapeConfig& job) {
  http::AuthSettings a;
  if (job.basic_auth) {
    const config::BasicAuthConfig& b = *job.basic_auth;
    a.basic = http::AuthSettings::Basic{{b.username, b.username_file}, {b.password, b.password_file}};
  }
  if (job.authorization) {
    const config::AuthorizationConfig& z = *job.authorization;
    a.authorization = http::AuthSettings::Authorization{z.type, {z.credentials, z.credentials_file}};
  }
  for (const auto& [name, h] : job.http_headers) a.headers.push_back({name, h.values, h.secrets, h.files});
  return a;
}

// A countdown shared by the completion callbacks of several loops; runs `then` after the last one.
struct Countdown {
  std::size_t remaining;
  std::function<void()> then;
};

LoopSettings settings_for(const config::Config& config, const config::ScrapeConfig& job, const std::string& target,
                          const std::map<std::string, std::string>& labels, const std::string& profile_path) {
  LoopSettings s;
  s.service = job.job_name;
  s.target = target;
  s.labels = labels;
  s.labels["service"] = job.job_name;
  s.labels["target"] = target;
  s.interval = job.scrape_interval;
  s.timeout = job.scrape_timeout;
  s.profile.format = job.format;
  s.profile.kind = job.profile;
  s.profile.limits.max_decompressed_bytes = job.body_size_limit;  // the limit covers the inflated profile too
  s.profile.limits.max_frames_per_stack = config.global.max_frames_per_stack;
  s.profile.limits.max_groups = config.global.max_stack_groups;
  s.detection = job.detection;
  s.endpoint = http::endpoint_for(target, job.scheme == config::Scheme::https);
  s.endpoint.tls_verify = !job.tls_config.insecure_skip_verify;
  s.endpoint.server_name = job.tls_config.server_name;
  s.request.target = (profile_path.empty() ? job.profile_path : profile_path) + pprof::debug_query(job.format);
  s.request.body_limit = job.body_size_limit;
  s.tls = {job.tls_config.ca_file, job.tls_config.cert_file, job.tls_config.key_file};
  s.auth = auth_settings(job);
  if (job.profile == pprof::ProfileKind::goroutine) {
    switch (job.goroutineleak.poll) {
      case config::LeakProofPoll::auto_detect: s.leak_proof.poll = LeakProofSettings::Poll::auto_detect; break;
      case config::LeakProofPoll::always: s.leak_proof.poll = LeakProofSettings::Poll::always; break;
      case config::LeakProofPoll::never: s.leak_proof.poll = LeakProofSettings::Poll::never; break;
    }
    s.leak_proof.interval = job.goroutineleak.interval;
    // debug=1 whatever the job's format: it is the leaked goroutines alone (debug=2 would be every goroutine).
    s.leak_proof.target = job.goroutineleak.path + pprof::debug_query(pprof::Format::debug1);
  }
  s.workload = workload_key(s.service, s.target, s.labels);
  s.debug2.interval = job.debug2.interval;
  s.debug2.min_interval = job.debug2.min_interval;
  s.debug2.max_goroutines = job.debug2.max_goroutines;
  s.debug2.max_bytes = job.debug2.max_bytes;
  if (s.debug2.interval.count() > 0) {
    s.debug2.target = (profile_path.empty() ? job.profile_path : profile_path) +
                      pprof::debug_query(pprof::Format::debug2);
  }
  return s;
}

std::string provider_key(const std::string& job, std::string_view kind, std::size_t index) {
  return job + '\x1f' + std::string(kind) + '\x1f' + std::to_string(index);
}

}  // namespace

std::vector<LoopSettings> plan_targets(const config::Config& config, const DiscoveredGroups& discovered,
                                       discovery::Shard shard) {
  std::vector<LoopSettings> out;
  for (const auto& job : config.scrape_configs) {
    std::set<std::string, std::less<>> seen;  // a target reported twice (two files, static and a file) polls once
    const auto add = [&](const std::string& target, const std::map<std::string, std::string>& labels,
                         const std::string& profile_path) {
      if (target.empty() || seen.count(target)) return;
      seen.insert(target);
      if (!discovery::in_shard(discovery::shard_key(job.job_name, target), shard.total, shard.index)) return;
      out.push_back(settings_for(config, job, target, labels, profile_path));
    };
    for (const auto& group : job.static_configs) {
      for (const auto& target : group.targets) add(target, group.labels, {});
    }
    if (auto it = discovered.find(job.job_name); it != discovered.end()) {
      for (const auto& group : it->second) {
        for (const auto& target : group.targets) add(target, group.labels, group.profile_path);
      }
    }
  }
  return out;
}

class Manager::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, prometheus::Registry& registry, std::shared_ptr<SeriesSet> series, ManagerOptions options)
      : io_(io),
        strand_(asio::make_strand(io)),
        series_(std::move(series)),
        options_(std::move(options)),
        targets_(
            prometheus::BuildGauge().Name("leakwatch_targets").Help("Targets polled, by service.").Register(registry)),
        internal_errors_(prometheus::BuildCounter()
                             .Name("leakwatch_internal_errors_total")
                             .Help("Survivable internal errors (bugs): an exception that ended a poll loop (which "
                                   "is then restarted) or a discovery or web-server task.")
                             .Register(registry)
                             .Add({{"component", "scrape"}})) {
    if (!options_.clock) options_.clock = &common::SystemClock::instance();
    if (!options_.resolver) options_.resolver = std::make_shared<http::Resolver>();
    if (!options_.providers) {
      options_.providers = [&io, resolver = options_.resolver](const std::string& job, const discovery::SdConfig& sd) {
        return discovery::make_provider(io, job, sd, resolver);
      };
    }
    if (!options_.fetchers) {
      options_.fetchers = [resolver = options_.resolver](asio::io_context& io, const LoopSettings& s,
                                                         std::shared_ptr<http::TlsContext> tls) {
        return http::make_fetcher(io, s.endpoint, s.request, s.auth, std::move(tls), resolver);
      };
    }
  }

  void apply(std::shared_ptr<const config::Config> config, std::function<void()> done) {
    asio::post(strand_, [self = shared_from_this(), config = std::move(config), done = std::move(done)]() mutable {
      if (self->stopped_) return;
      self->config_ = config;
      self->tls_.clear();
      for (const auto& job : config->scrape_configs) {
        if (job.scheme == config::Scheme::https) self->tls_[job.job_name] = self->tls_context(job);
      }
      self->update_providers(*config);
      self->request_sync(std::move(done));
    });
  }

  void stop(std::function<void()> done) {
    asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
      self->stopped_ = true;
      // Providers stop without being waited for: their updates are ignored from now on.
      for (auto& [key, entry] : self->providers_) {
        if (entry.provider) entry.provider->stop([] {});
      }
      self->providers_.clear();
      auto loops = std::move(self->loops_);
      self->loops_.clear();
      self->target_count_ = 0;
      if (loops.empty()) {
        if (done) done();
        return;
      }
      auto countdown = std::make_shared<Countdown>(Countdown{loops.size(), std::move(done)});
      for (auto& [key, loop] : loops) {
        loop->stop([self, countdown] {
          asio::post(self->strand_, [countdown] {
            if (--countdown->remaining == 0 && countdown->then) countdown->then();
          });
        });
      }
    });
  }

  std::size_t target_count() const noexcept { return target_count_.load(); }
  std::size_t restarts() const noexcept { return restarts_.load(); }

 private:
  // A running provider of one sd config of one job, and the groups it last reported.
  struct ProviderEntry {
    discovery::SdConfig config;
    std::shared_ptr<discovery::Provider> provider;  // nullptr when none could be made (logged)
    std::vector<discovery::TargetGroup> groups;
    std::uint64_t id = 0;  // tells a replaced provider's late updates apart
  };

  std::shared_ptr<http::TlsContext> tls_context(const config::ScrapeConfig& job) {
    auto made = http::make_client_tls({job.tls_config.ca_file, job.tls_config.cert_file, job.tls_config.key_file});
    if (!made) {
      // The job's https targets then fail every poll with connect_error, which the metrics and this line show.
      common::log(*common::logger("scrape"), spdlog::level::err, "cannot set up TLS",
                  {Field{"job", job.job_name}, Field{"err", made.error().message}});
      return nullptr;
    }
    return *made;
  }

  // One provider per sd config: kept while its job and config stay the same, so a reload does not re-read
  // every file or re-list every pod; replaced when its config changed, stopped when it vanished.
  void update_providers(const config::Config& config) {
    std::map<std::string, ProviderEntry> next;
    const auto want = [&](const std::string& job, std::string_view kind, std::size_t index, discovery::SdConfig sd) {
      const std::string key = provider_key(job, kind, index);
      auto old = providers_.find(key);
      if (old != providers_.end() && old->second.config == sd) {
        next.emplace(key, std::move(old->second));
        providers_.erase(old);
        return;
      }
      ProviderEntry entry;
      entry.config = std::move(sd);
      entry.id = next_provider_id_++;
      if (old != providers_.end()) {
        // Until the successor reports, its predecessor's targets stand in: a changed refresh_interval must not
        // make every target of the job vanish and come back (losing its series) for a moment.
        entry.groups = std::move(old->second.groups);
        if (old->second.provider) old->second.provider->stop([] {});
        providers_.erase(old);
      }
      entry.provider = options_.providers(job, entry.config);
      if (!entry.provider) entry.groups.clear();  // no successor will ever report: nothing stands in
      if (entry.provider) {
        std::weak_ptr<Impl> weak = weak_from_this();
        entry.provider->start([weak, key, id = entry.id](std::vector<discovery::TargetGroup> groups) {
          if (auto self = weak.lock()) {
            asio::post(self->strand_, [self, key, id, groups = std::move(groups)]() mutable {
              self->on_discovery(key, id, std::move(groups));
            });
          }
        });
      }
      next.emplace(key, std::move(entry));
    };
    for (const auto& job : config.scrape_configs) {
      for (std::size_t i = 0; i < job.file_sd_configs.size(); ++i)
        want(job.job_name, "file", i, job.file_sd_configs[i]);
      for (std::size_t i = 0; i < job.kubernetes_sd_configs.size(); ++i) {
        want(job.job_name, "kubernetes", i, job.kubernetes_sd_configs[i]);
      }
    }
    for (auto& [key, entry] : providers_) {
      if (entry.provider) entry.provider->stop([] {});
    }
    providers_ = std::move(next);
  }

  void on_discovery(const std::string& key, std::uint64_t id, std::vector<discovery::TargetGroup> groups) {
    if (stopped_) return;
    auto it = providers_.find(key);
    if (it == providers_.end() || it->second.id != id) return;  // from a provider that was replaced or stopped
    if (it->second.groups == groups) return;
    it->second.groups = std::move(groups);
    request_sync({});
  }

  DiscoveredGroups discovered() const {
    DiscoveredGroups out;
    if (!config_) return out;
    const auto append = [&](const std::string& job, const std::string& key) {
      if (auto it = providers_.find(key); it != providers_.end()) {
        auto& groups = out[job];
        groups.insert(groups.end(), it->second.groups.begin(), it->second.groups.end());
      }
    };
    for (const auto& job : config_->scrape_configs) {
      for (std::size_t i = 0; i < job.file_sd_configs.size(); ++i) {
        append(job.job_name, provider_key(job.job_name, "file", i));
      }
      for (std::size_t i = 0; i < job.kubernetes_sd_configs.size(); ++i) {
        append(job.job_name, provider_key(job.job_name, "kubernetes", i));
      }
    }
    return out;
  }

  // Syncs are serialized: one requested while another waits for stopping loops runs after it, planned from
  // the state at that time. `done` runs once a sync that started after this call has finished.
  void request_sync(std::function<void()> done) {
    if (done) waiting_.push_back(std::move(done));
    if (syncing_) {
      resync_ = true;
      return;
    }
    run_sync();
  }

  void run_sync() {
    syncing_ = true;
    resync_ = false;
    auto waiting = std::make_shared<std::vector<std::function<void()>>>(std::move(waiting_));
    waiting_.clear();
    std::vector<LoopSettings> wanted;
    if (config_) wanted = plan_targets(*config_, discovered(), options_.shard);
    sync(std::move(wanted), [self = shared_from_this(), waiting] {
      for (auto& done : *waiting) done();
      self->syncing_ = false;
      if (self->resync_ && !self->stopped_) self->run_sync();
    });
  }

  void sync(std::vector<LoopSettings> wanted, std::function<void()> done) {
    std::map<std::string, LoopSettings> by_key;
    for (auto& s : wanted) by_key.emplace(loop_key(s), std::move(s));

    std::vector<std::shared_ptr<Loop>> to_stop;
    for (auto it = loops_.begin(); it != loops_.end();) {
      auto w = by_key.find(it->first);
      if (w != by_key.end() && w->second == it->second->settings()) {
        by_key.erase(w);  // unchanged: keeps running, keeps its series
        ++it;
      } else {
        to_stop.push_back(it->second);
        it = loops_.erase(it);
      }
    }
    std::vector<LoopSettings> to_start;
    for (auto& [key, s] : by_key) to_start.push_back(std::move(s));

    if (to_stop.empty()) {
      start_loops(std::move(to_start));
      if (done) done();
      return;
    }
    // Start successors only after the old loops are gone: a changed target may keep its label set, and two
    // loops must never write (or remove) the same series.
    auto countdown = std::make_shared<Countdown>(Countdown{to_stop.size(), {}});
    countdown->then = [self = shared_from_this(), to_start = std::move(to_start), done = std::move(done)]() mutable {
      self->start_loops(std::move(to_start));
      if (done) done();
    };
    for (auto& loop : to_stop) {
      loop->stop([self = shared_from_this(), countdown] {
        asio::post(self->strand_, [countdown] {
          if (--countdown->remaining == 0) countdown->then();
        });
      });
    }
  }

  std::shared_ptr<Loop> make_loop(LoopSettings s) {
    std::shared_ptr<http::TlsContext> tls;
    if (s.endpoint.https) {
      if (auto it = tls_.find(s.service); it != tls_.end()) tls = it->second;
    }
    auto fetcher = options_.fetchers(io_, s, std::move(tls));
    auto series = series_->add(s.labels, s.profile.kind);
    LoopHooks hooks;
    hooks.on_crash = [weak = weak_from_this(), key = loop_key(s)](const std::string&) {
      if (auto self = weak.lock()) asio::post(self->strand_, [self, key] { self->restart(key); });
    };
    // Posted before the loop's stop callbacks, so a successor started after them finds the priors stored.
    hooks.on_finished = [weak = weak_from_this(), workload = s.workload](detect::Priors priors) {
      if (auto self = weak.lock()) {
        asio::post(self->strand_, [self, workload, priors = std::move(priors)]() mutable {
          self->priors_.put(workload, std::move(priors), self->options_.clock->unix_seconds());
        });
      }
    };
    auto priors = priors_.get(s.workload, options_.clock->unix_seconds()).value_or(detect::Priors{});
    return std::make_shared<Loop>(io_, std::move(s), std::move(fetcher), std::move(series), *options_.clock,
                                  std::move(hooks), std::move(priors));
  }

  // A loop ended by an exception (it logged why and removed its series): count it, and start a fresh one in
  // its place, which polls again at the target's next tick.
  void restart(const std::string& key) {
    internal_errors_.Increment();
    ++restarts_;
    if (stopped_) return;
    auto it = loops_.find(key);
    if (it == loops_.end()) return;  // stopped or replaced meanwhile
    LoopSettings s = it->second->settings();
    it->second = make_loop(std::move(s));
    it->second->start();
  }

  void start_loops(std::vector<LoopSettings> settings) {
    if (stopped_) return;
    for (auto& s : settings) {
      const auto key = loop_key(s);
      auto loop = make_loop(std::move(s));
      loop->start();
      loops_.emplace(key, std::move(loop));
    }
    target_count_ = loops_.size();
    // Every configured job has a series, 0 when it has no targets (or none in this replica's shard).
    std::map<std::string, double> per_service;
    if (config_) {
      for (const auto& job : config_->scrape_configs) per_service[job.job_name] = 0;
    }
    for (const auto& [key, loop] : loops_) per_service[loop->settings().service] += 1;
    // Services that no longer exist lose their leakwatch_targets series (a handful: one per job).
    for (auto it = known_services_.begin(); it != known_services_.end();) {
      if (!per_service.count(it->first)) {
        targets_.Remove(it->second);
        it = known_services_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [service, n] : per_service) {
      auto& gauge = known_services_[service];
      if (gauge == nullptr) gauge = &targets_.Add({{"service", service}});
      gauge->Set(n);
    }
  }

  asio::io_context& io_;
  asio::strand<asio::io_context::executor_type> strand_;
  std::shared_ptr<SeriesSet> series_;
  ManagerOptions options_;
  prometheus::Family<prometheus::Gauge>& targets_;
  prometheus::Counter& internal_errors_;
  std::map<std::string, std::shared_ptr<Loop>> loops_;  // by service + target
  PriorsStore priors_;                                  // what the loops of targets that went away learned, by workload
  std::map<std::string, std::shared_ptr<http::TlsContext>> tls_;  // by service, for the current config
  std::shared_ptr<const config::Config> config_;
  std::map<std::string, ProviderEntry> providers_;  // by job + kind + index of the sd config
  std::uint64_t next_provider_id_ = 1;
  bool syncing_ = false;
  bool resync_ = false;                                       // a sync was requested while one ran
  std::vector<std::function<void()>> waiting_;                // `done`s of the requested sync
  std::map<std::string, prometheus::Gauge*> known_services_;  // leakwatch_targets series by service
  std::atomic<std::size_t> target_count_{0};
  std::atomic<std::size_t> restarts_{0};
  bool stopped_ = false;
};

Manager::Manager(asio::io_context& io, prometheus::Registry& registry, std::shared_ptr<SeriesSet> series,
                 ManagerOptions options)
    : impl_(std::make_shared<Impl>(io, registry, std::move(series), std::move(options))) {}

Manager::~Manager() = default;

void Manager::apply(std::shared_ptr<const config::Config> config, std::function<void()> done) {
  impl_->apply(std::move(config), std::move(done));
}

void Manager::stop(std::function<void()> done) { impl_->stop(std::move(done)); }

std::size_t Manager::target_count() const noexcept { return impl_->target_count(); }

std::size_t Manager::restarts() const noexcept { return impl_->restarts(); }

}  // namespace leakwatch::scrape
