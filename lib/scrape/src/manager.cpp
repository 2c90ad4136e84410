#include "leakwatch/scrape/manager.hpp"

#include "leakwatch/common/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>

#include <set>

namespace leakwatch::scrape {
namespace asio = boost::asio;
using common::Field;

namespace {

std::string loop_key(const LoopSettings& s) { return s.service + '\x1f' + s.target; }

int debug_level(pprof::Format f) {
  switch (f) {
    case pprof::Format::debug0: return 0;
    case pprof::Format::debug1: return 1;
    case pprof::Format::debug2: return 2;
  }
  return 1;
}

// "host:port" or "[v6]:port" (validated by the config loader) into host and port.
void split_host_port(const std::string& target, std::string& host, std::string& port) {
  const auto colon = target.rfind(':');
  host = target.substr(0, colon);
  port = colon == std::string::npos ? "" : target.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
}

// A countdown shared by the completion callbacks of several loops; runs `then` after the last one.
struct Countdown {
  std::size_t remaining;
  std::function<void()> then;
};

}  // namespace

std::vector<LoopSettings> plan_targets(const config::Config& config) {
  std::vector<LoopSettings> out;
  for (const auto& job : config.scrape_configs) {
    for (const auto& group : job.static_configs) {
      for (const auto& target : group.targets) {
        LoopSettings s;
        s.service = job.job_name;
        s.target = target;
        s.labels = prometheus::Labels(group.labels.begin(), group.labels.end());
        s.labels["service"] = job.job_name;
        s.labels["target"] = target;
        s.interval = job.scrape_interval;
        s.timeout = job.scrape_timeout;
        s.format = job.format;
        s.kind = job.profile;
        s.detection = job.detection;
        s.body_limit = job.body_size_limit;
        s.limits.max_decompressed_bytes = job.body_size_limit;  // the limit covers the inflated profile too
        s.limits.max_frames_per_stack = config.global.max_frames_per_stack;
        s.limits.max_groups = config.global.max_stack_groups;
        split_host_port(target, s.endpoint.host, s.endpoint.port);
        s.endpoint.host_header = target;
        s.endpoint.path = job.profile_path + "?debug=" + std::to_string(debug_level(job.format));
        s.endpoint.https = job.scheme == config::Scheme::https;
        s.endpoint.tls_verify = !job.tls_config.insecure_skip_verify;
        s.endpoint.server_name = job.tls_config.server_name;
        s.tls_ca_file = job.tls_config.ca_file;
        out.push_back(std::move(s));
      }
    }
  }
  return out;
}

Manager::Manager(asio::io_context& io, prometheus::Registry& registry)
    : io_(io), strand_(asio::make_strand(io)), metrics_(registry), detection_metrics_(registry) {}

std::shared_ptr<asio::ssl::context> Manager::tls_context(const config::ScrapeConfig& job) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1,
                   ec);
  if (job.tls_config.ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->load_verify_file(job.tls_config.ca_file, ec);
  }
  if (ec) {
    // The job's https targets then fail every poll with connect_error, which the metrics and this line show.
    common::log(*common::logger("scrape"), spdlog::level::err, "cannot set up TLS",
                {Field{"job", job.job_name}, Field{"ca_file", job.tls_config.ca_file}, Field{"err", ec.message()}});
    return nullptr;
  }
  return ctx;
}

void Manager::apply(std::shared_ptr<const config::Config> config, std::function<void()> done) {
  asio::post(strand_, [self = shared_from_this(), config = std::move(config), done = std::move(done)]() mutable {
    if (self->stopped_) return;
    self->config_ = config;
    self->tls_.clear();
    for (const auto& job : config->scrape_configs) {
      if (job.scheme == config::Scheme::https) self->tls_[job.job_name] = self->tls_context(job);
    }
    self->sync(plan_targets(*config), std::move(done));
  });
}

void Manager::sync(std::vector<LoopSettings> wanted, std::function<void()> done) {
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

void Manager::start_loops(std::vector<LoopSettings> settings) {
  if (stopped_) return;
  for (auto& s : settings) {
    const auto key = loop_key(s);
    std::shared_ptr<asio::ssl::context> tls;
    if (s.endpoint.https) {
      if (auto it = tls_.find(s.service); it != tls_.end()) tls = it->second;
    }
    auto loop = std::make_shared<Loop>(io_, std::move(s), std::move(tls), metrics_, detection_metrics_);
    loop->start();
    loops_.emplace(key, std::move(loop));
  }
  target_count_ = loops_.size();
  std::map<std::string, double> per_service;
  for (const auto& [key, loop] : loops_) per_service[loop->settings().service] += 1;
  for (const auto& [service, n] : per_service) metrics_.targets.Add({{"service", service}}).Set(n);
  // Services that no longer exist lose their leakwatch_targets series.
  for (const auto& [service, gauge] : known_services_) {
    if (!per_service.count(service)) metrics_.targets.Remove(gauge);
  }
  known_services_.clear();
  for (const auto& [service, n] : per_service) known_services_[service] = &metrics_.targets.Add({{"service", service}});
}

void Manager::stop(std::function<void()> done) {
  asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    self->stopped_ = true;
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

}  // namespace leakwatch::scrape
