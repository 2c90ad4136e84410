// The daemon's wiring: config, registry, scrape manager, web server, signals, one io_context.

#include "serve.hpp"

#include "leakwatch/common/log.hpp"
#include "leakwatch/common/version.hpp"
#include "leakwatch/config/load.hpp"
#include "leakwatch/discovery/shard.hpp"
#include "leakwatch/exporter/server.hpp"
#include "leakwatch/http/resolver.hpp"
#include "leakwatch/scrape/manager.hpp"
#include "leakwatch/scrape/series.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <mutex>
#include <thread>

namespace leakwatch::daemon {
namespace asio = boost::asio;
using common::Field;

namespace {

// Shutdown must finish within 5 s of SIGTERM (Kubernetes' grace period is longer, but operators expect
// exporters to go away promptly); stopping the loops normally takes milliseconds.
constexpr auto kShutdownGrace = std::chrono::seconds(4);

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::string hostname() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return {};
  return std::string(buf.data());
}

std::string join(const std::vector<config::Diagnostic>& diags) {
  std::string out;
  for (const auto& d : diags) {
    if (!out.empty()) out += "; ";
    out += d.to_string();
  }
  return out;
}

// Config reloads (SIGHUP and POST /-/reload share this path): parse, validate, and only then apply.
class Reloader {
 public:
  Reloader(std::string path, std::shared_ptr<scrape::Manager> manager, prometheus::Registry& registry)
      : path_(std::move(path)),
        manager_(std::move(manager)),
        success_(prometheus::BuildGauge()
                     .Name("leakwatch_config_last_reload_successful")
                     .Help("Whether the last configuration reload attempt was successful.")
                     .Register(registry)
                     .Add({})),
        success_time_(prometheus::BuildGauge()
                          .Name("leakwatch_config_last_reload_success_timestamp_seconds")
                          .Help("Timestamp of the last successful configuration reload.")
                          .Register(registry)
                          .Add({})) {}

  // Returns the error when the config was refused; the running config then stays in force.
  std::optional<std::string> reload(std::function<void()> applied = {}) {
    std::lock_guard lock(mutex_);
    auto loaded = config::load_file(path_);
    auto log = common::logger("config");
    if (auto* diags = std::get_if<std::vector<config::Diagnostic>>(&loaded)) {
      success_.Set(0);
      for (const auto& d : *diags)
        common::log(*log, spdlog::level::err, "invalid config", {Field{"err", d.to_string()}});
      return join(*diags);
    }
    auto& ok = std::get<config::Loaded>(loaded);
    success_.Set(1);
    success_time_.Set(unix_now());
    if (ok.sha256 == sha256_) {
      common::log(*log, spdlog::level::info, "config unchanged", {Field{"file", path_}});
      if (applied) applied();
      return std::nullopt;
    }
    sha256_ = ok.sha256;
    common::log(*log, spdlog::level::info, "config loaded",
                {Field{"file", path_}, Field{"jobs", std::to_string(ok.config->scrape_configs.size())}});
    manager_->apply(ok.config, std::move(applied));
    return std::nullopt;
  }

 private:
  std::mutex mutex_;
  std::string path_;
  std::string sha256_;
  std::shared_ptr<scrape::Manager> manager_;
  prometheus::Gauge& success_;
  prometheus::Gauge& success_time_;
};

// Raises the soft limit on open files to the hard one: every poll and every connection to the own port
// holds a descriptor, and the usual soft limit of 1024 is below what 10,000 targets or --web.max-connections
// need. Returns the soft limit in force.
rlim_t raise_open_files_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised.rlim_cur;
  }
  return limit.rlim_cur;
}

}  // namespace

int serve(const Flags& flags) {
  auto log = common::logger("main");
  // The shard comes first: a replica that does not know its shard must not poll (every target would then
  // be polled twice, or not at all).
  const auto shard_index = resolve_shard_index(flags, hostname());
  if (!shard_index) {
    std::cerr << "leakwatch: " << shard_index.error().message << '\n';
    return 2;
  }
  const discovery::Shard shard{flags.shard_total, *shard_index};
  if (const rlim_t files = raise_open_files_limit();
      files != 0 && files != RLIM_INFINITY && files < flags.max_connections + 256) {
    common::log(*log, spdlog::level::warn, "the open files limit is low for --web.max-connections",
                {Field{"limit", std::to_string(files)},
                 Field{"max_connections", std::to_string(flags.max_connections)}});
  }
  common::log(*log, spdlog::level::info, "starting leakwatch",
              {Field{"version", common::version()}, Field{"revision", common::revision()}});
  if (shard.total > 1) {
    common::log(*log, spdlog::level::info, "polling one shard of the targets",
                {Field{"shard_index", std::to_string(shard.index)}, Field{"shard_total", std::to_string(shard.total)}});
  }

  // A bad config at startup is fatal (exit 1), before anything listens.
  auto first = config::load_file(flags.config_file);
  if (auto* diags = std::get_if<std::vector<config::Diagnostic>>(&first)) {
    for (const auto& d : *diags) common::log(*log, spdlog::level::err, "invalid config", {Field{"err", d.to_string()}});
    return 1;
  }

  // Declared before the io_context: whatever its handlers hold (loops, their series, the manager) may be
  // destroyed with it, and must find these alive.
  auto registry = std::make_shared<prometheus::Registry>();
  auto series = std::make_shared<scrape::SeriesSet>();
  auto resolver = std::make_shared<http::Resolver>();
  prometheus::BuildGauge()
      .Name("leakwatch_build_info")
      .Help("A metric with a constant '1' value labeled by version and revision of leakwatch.")
      .Register(*registry)
      .Add({{"version", std::string(common::version())}, {"revision", std::string(common::revision())}})
      .Set(1);

  asio::io_context io;
  scrape::ManagerOptions manager_options;
  manager_options.shard = shard;
  manager_options.resolver = resolver;
  auto manager = std::make_shared<scrape::Manager>(io, *registry, series, std::move(manager_options));
  Reloader reloader(flags.config_file, manager, *registry);
  std::atomic<bool> ready{false};

  exporter::Handlers handlers;
  handlers.collectables.push_back(registry);
  handlers.writers.push_back([series](std::string& out) { series->write(out); });
  handlers.ready = [&ready] { return ready.load(); };
  if (flags.enable_lifecycle) handlers.reload = [&reloader] { return reloader.reload(); };
  exporter::ServerOptions server_options;
  server_options.registry = registry;
  server_options.max_connections = flags.max_connections;
  if (!flags.web_config_file.empty()) {
    // Like the main config, a bad web config at startup is fatal: serving without the TLS or the
    // authentication the operator asked for would be worse than not serving.
    auto web = exporter::WebConfigSource::open(flags.web_config_file, *registry);
    if (!web) {
      common::log(*log, spdlog::level::err, "invalid web config", {Field{"err", web.error().message}});
      return 1;
    }
    server_options.web = std::move(*web);
  }
  auto server = std::make_shared<exporter::Server>(io, std::move(handlers), std::move(server_options));
  auto listening = server->listen(flags.listen_address);
  if (!listening) {
    common::log(*log, spdlog::level::err, "cannot listen", {Field{"err", listening.error().message}});
    return 1;
  }
  {
    std::ostringstream where;
    where << *listening;
    common::log(*log, spdlog::level::info, "listening", {Field{"address", where.str()}});
  }

  // The first load cannot fail now (the file was just read), unless it changed in between: then it is
  // refused like any reload, and the daemon runs with no targets until a good config is reloaded.
  if (auto err = reloader.reload([&ready] { ready = true; })) {
    common::log(*log, spdlog::level::err, "config changed during startup and is now invalid", {Field{"err", *err}});
  }

  asio::signal_set hup(io, SIGHUP);
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      common::log(*log, spdlog::level::info, "SIGHUP: reloading config");
      reloader.reload();
      wait_hup();
    });
  };
  wait_hup();

  asio::signal_set terminate(io, SIGINT, SIGTERM);
  asio::steady_timer grace(io);
  terminate.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    common::log(*log, spdlog::level::info, "shutting down", {Field{"signal", signo == SIGINT ? "SIGINT" : "SIGTERM"}});
    ready = false;
    hup.cancel();
    server->stop();
    manager->stop([&io] { io.stop(); });
    grace.expires_after(kShutdownGrace);
    grace.async_wait([&](const boost::system::error_code& gec) {
      if (gec) return;
      common::log(*log, spdlog::level::warn, "loops did not stop in time; exiting anyway");
      io.stop();
    });
  });

  // One io_context drives everything; a few threads so that parsing a large profile on one target's strand
  // does not delay another target's timer.
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  // Lookups still running (a name that never resolves) must not deliver into the io_context being destroyed.
  resolver->shutdown();
  common::log(*log, spdlog::level::info, "stopped");
  return 0;
}

}  // namespace leakwatch::daemon
