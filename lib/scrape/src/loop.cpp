#include "leakwatch/scrape/loop.hpp"

#include "leakwatch/common/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <exception>

namespace leakwatch::scrape {
namespace asio = boost::asio;
using common::Field;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Loop::Loop(asio::io_context& io, LoopSettings settings, std::shared_ptr<asio::ssl::context> tls,
           ScrapeMetrics& metrics, DetectionMetrics& detection_metrics)
    : strand_(asio::make_strand(io)),
      settings_(std::move(settings)),
      timer_(strand_),
      fetcher_(strand_, settings_.endpoint, std::move(tls), settings_.body_limit),
      series_(std::in_place, metrics, settings_.labels, settings_.kind),
      detector_(settings_.detection),
      detection_series_(std::in_place, detection_metrics, settings_.labels),
      log_(common::logger("scrape")) {}

void Loop::start() {
  running_ = true;
  asio::co_spawn(strand_, [self = shared_from_this()] { return self->run(); },
                 [self = shared_from_this()](std::exception_ptr e) {
                   // Nothing in run() is expected to throw; if something does, the loop ends but the daemon
                   // keeps going, and the log says which target stopped.
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       common::log(*self->log_, spdlog::level::err, "poll loop failed",
                                   {Field{"job", self->settings_.service}, Field{"target", self->settings_.target},
                                    Field{"err", ex.what()}});
                     }
                   }
                   self->finish();
                 });
}

void Loop::stop(std::function<void()> on_stopped) {
  asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(on_stopped)]() mutable {
    if (cb) self->on_stopped_.push_back(std::move(cb));
    if (!self->running_) {
      self->finish();
      return;
    }
    self->stopping_ = true;
    self->timer_.cancel();
    self->fetcher_.cancel();
  });
}

void Loop::finish() {
  running_ = false;
  series_.reset();  // before on_stopped: a successor with the same labels must not share these series
  detection_series_.reset();
  auto callbacks = std::move(on_stopped_);
  on_stopped_.clear();
  for (auto& cb : callbacks) cb();
}

asio::awaitable<void> Loop::run() {
  const std::string key = settings_.service + "/" + settings_.target;
  auto next = first_tick(std::chrono::steady_clock::now(), std::chrono::system_clock::now(), settings_.interval,
                         schedule_offset(key, settings_.interval));
  while (!stopping_) {
    timer_.expires_at(next);
    co_await timer_.async_wait(kNoThrow);
    if (stopping_) break;
    co_await poll_once();
    next = next_tick(next, settings_.interval, std::chrono::steady_clock::now());
  }
  fetcher_.cancel();
}

void Loop::log_alert(const detect::Event& e) {
  // Warn only when an alert fires: pending and resolved are routine.
  const auto level = e.state == detect::Transition::firing ? spdlog::level::warn : spdlog::level::info;
  const auto short_number = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return std::string(buf);
  };
  const std::string growth = short_number(e.slope_per_second * 60);
  const std::string p = short_number(e.p_value);
  const std::string_view state = detect::transition_name(e.state);
  if (e.scope == detect::Scope::total) {
    common::log(*log_, level, "leak alert",
                {Field{"job", settings_.service}, Field{"target", settings_.target}, Field{"scope", "total"},
                 Field{"state", state}, Field{"growth_per_min", growth}, Field{"p_value", p}});
  } else {
    common::log(*log_, level, "leak alert",
                {Field{"job", settings_.service}, Field{"target", settings_.target}, Field{"scope", "stack"},
                 Field{"state", state}, Field{"function", e.function}, Field{"location", e.location},
                 Field{"growth_per_min", growth}, Field{"p_value", p}});
  }
}

asio::awaitable<void> Loop::poll_once() {
  const auto start = std::chrono::steady_clock::now();
  FetchResult fetched = co_await fetcher_.fetch(start + settings_.timeout);
  if (stopping_) co_return;  // cancelled by stop(): not a failure of the target

  std::string parse_error;
  if (fetched.outcome == Outcome::success) {
    auto profile = pprof::parse(fetched.body, settings_.format, settings_.limits);
    if (profile && profile->kind != settings_.kind) {
      // A profile_path pointing at the other endpoint: its count means something else, so nothing is recorded.
      profile = common::Error{"the body is a " + std::string(pprof::profile_kind_name(profile->kind)) +
                              " profile, but the job asks for profile: " +
                              std::string(pprof::profile_kind_name(settings_.kind))};
    }
    if (profile) {
      const double elapsed = seconds_since(start);
      const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      series_->record_success(elapsed, fetched.body.size(), profile->total, profile->groups.size(), now);
      if (profile->truncated()) {
        common::log(*log_, spdlog::level::debug, "profile truncated",
                    {Field{"job", settings_.service}, Field{"target", settings_.target},
                     Field{"reason", profile->truncation_reason}});
      }
      if (!last_ok_) {
        common::log(*log_, spdlog::level::info, "target recovered",
                    {Field{"job", settings_.service}, Field{"target", settings_.target}});
      }
      last_ok_ = true;
      // The same call `leakwatch replay` makes for each saved profile.
      for (const detect::Event& e : detector_.observe(now, std::move(*profile))) log_alert(e);
      detection_series_->update(detector_);
      co_return;
    }
    fetched.outcome = Outcome::parse_error;
    fetched.error = profile.error().message;
  }

  series_->record_failure(fetched.outcome, seconds_since(start));
  // One line when a target goes bad, then debug lines: a target down for a day must not flood the log.
  const auto level = last_ok_ ? spdlog::level::warn : spdlog::level::debug;
  common::log(*log_, level, "poll failed",
              {Field{"job", settings_.service}, Field{"target", settings_.target},
               Field{"result", outcome_name(fetched.outcome)}, Field{"err", fetched.error}});
  last_ok_ = false;
}

}  // namespace leakwatch::scrape
