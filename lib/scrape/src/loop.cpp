#include "leakwatch/scrape/loop.hpp"

#include "leakwatch/common/awaitable.hpp"
#include "leakwatch/common/log.hpp"
#include "leakwatch/detect/debug2_cadence.hpp"
#include "leakwatch/scrape/schedule.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <cstdio>
#include <exception>
#include <vector>

namespace leakwatch::scrape {
namespace asio = boost::asio;
using common::Field;
using common::Outcome;

// The loop is a small state machine on its strand: idle -> waiting (for the next tick) -> fetching -> waiting
// ... -> stopped. Each state has exactly one callback pending (the timer's or the fetcher's), and that
// callback is where a stop() that came meanwhile takes effect.
class Loop::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, LoopSettings settings, std::unique_ptr<common::Fetcher> fetcher,
       std::shared_ptr<TargetSeries> series, common::Clock& clock, LoopHooks hooks, detect::Priors priors)
      : strand_(asio::make_strand(io)),
        settings_(std::move(settings)),
        fetcher_(std::move(fetcher)),
        series_(std::move(series)),
        clock_(clock),
        timer_(clock.make_timer(io)),
        detector_(settings_.detection),
        hooks_(std::move(hooks)),
        log_(common::logger("scrape")) {
    detector_.adopt(std::move(priors));
  }

  const LoopSettings& settings() const noexcept { return settings_; }

  void start() {
    asio::dispatch(strand_, [self = shared_from_this()] {
      if (self->state_ != State::idle) return;
      const auto& s = self->settings_;
      self->scheduled_ = first_tick(self->clock_.steady_now(), self->clock_.system_now(), s.interval,
                                    schedule_offset(s.service + "/" + s.target, s.interval));
      self->next_proof_ = self->scheduled_;  // the proof with the first poll, then every proof interval
      self->debug2_ = detect::Debug2Cadence({s.debug2.interval, s.debug2.min_interval, s.debug2.max_goroutines},
                                            seconds_of(self->scheduled_));
      self->wait();
    });
  }

  void stop(std::function<void()> on_stopped) {
    asio::dispatch(strand_, [self = shared_from_this(), cb = std::move(on_stopped)]() mutable {
      if (cb) self->on_stopped_.push_back(std::move(cb));
      switch (self->state_) {
        case State::idle:
        case State::stopped: self->finish(); break;
        case State::waiting: self->timer_->cancel(); break;  // its callback finishes
        case State::fetching: self->fetcher_->cancel(); break;
      }
      self->stopping_ = true;
    });
  }

 private:
  enum class State { idle, waiting, fetching, stopped };

  void wait() {
    state_ = State::waiting;
    timer_->async_wait_until(scheduled_, [self = shared_from_this()](bool) {
      asio::post(self->strand_, [self] { self->on_tick(); });
    });
  }

  // Runs a step of the loop; an exception (a bug, or bad_alloc) ends this loop, never the daemon.
  template <class Step>
  void guarded(Step step) {
    try {
      step();
    } catch (...) {
      crash(common::describe(std::current_exception()));
    }
  }

  void on_tick() {
    if (stopping_) return finish();
    guarded([this] { fetch_profile(debug2_due()); });
  }

  // debug=2 instead of the job's format this tick (detect::Debug2Cadence says when).
  bool debug2_due() const {
    return debug2_.due(seconds_of(clock_.steady_now()), last_goroutines_, detector_.wants_wait_evidence());
  }
  static double seconds_of(common::SteadyTime t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

  void fetch_profile(bool debug2) {
    state_ = State::fetching;
    const auto started = clock_.steady_now();
    common::FetchRequest request{settings_.request.target, 0};
    if (debug2) {
      debug2_.taken(seconds_of(started));
      request = {settings_.debug2.target, settings_.debug2.max_bytes};
    }
    fetcher_->fetch(request, started + settings_.timeout,
                    [self = shared_from_this(), started, debug2](common::FetchResult r) {
                      asio::post(self->strand_, [self, started, debug2, r = std::move(r)]() mutable {
                        self->on_fetched(started, debug2, std::move(r));
                      });
                    });
  }

  void on_fetched(common::SteadyTime started, bool debug2, common::FetchResult fetched) {
    if (stopping_) return finish();  // cancelled by stop(): not a failure of the target
    guarded([&] {
      // A debug=2 poll that fails (too large, too slow, refused) costs only itself: the job's own format is
      // fetched at once, and that poll is what counts.
      if (debug2 && !record_debug2(started, fetched)) return fetch_profile(false);
      const bool ok = debug2 || record(started, std::move(fetched));
      // The proof follows a good poll on the same connection: its groups join the profile just read, and a
      // target that is down is not asked twice.
      if (ok && settings_.leak_proof.poll != LeakProofSettings::Poll::never && clock_.steady_now() >= next_proof_) {
        return fetch_proof();
      }
      schedule_next();
    });
  }

  void schedule_next() {
    scheduled_ = next_tick(scheduled_, settings_.interval, clock_.steady_now());
    wait();
  }

  void fetch_proof() {
    const auto started = clock_.steady_now();
    next_proof_ = started + settings_.leak_proof.interval;
    fetcher_->fetch(common::FetchRequest{settings_.leak_proof.target, 0}, started + settings_.timeout,
                    [self = shared_from_this(), started](common::FetchResult r) {
                      asio::post(self->strand_, [self, started, r = std::move(r)]() mutable {
                        self->on_proof_fetched(started, std::move(r));
                      });
                    });
  }

  void on_proof_fetched(common::SteadyTime started, common::FetchResult fetched) {
    if (stopping_) return finish();
    guarded([&] {
      record_proof(started, std::move(fetched));
      schedule_next();
    });
  }

  double seconds_since(common::SteadyTime start) const {
    return std::chrono::duration<double>(clock_.steady_now() - start).count();
  }

  // What a fetch cost the target, per profile kind and format, whatever came of it: counted before the
  // body is parsed, since parsing costs us, not the target.
  void record_cost(pprof::ProfileKind kind, pprof::Format format, common::SteadyTime started,
                   const common::FetchResult& fetched) {
    series_->record_fetch_cost(kind, format, seconds_since(started), fetched.body.size());
  }

  // A debug=2 poll: recorded as a poll when it succeeds (returns true); else only its cost, and false.
  bool record_debug2(common::SteadyTime started, common::FetchResult& fetched) {
    detect::ProfileSettings profile = settings_.profile;
    profile.format = pprof::Format::debug2;
    record_cost(profile.kind, pprof::Format::debug2, started, fetched);
    std::string why = fetched.error;
    if (fetched.outcome == Outcome::success) {
      const double now = clock_.unix_seconds();
      auto processed = detect::process_profile(fetched.body, profile, detector_, now);
      if (processed) {
        on_success(started, fetched.body.size(), *processed, now);
        return true;
      }
      why = processed.error().message;
    }
    common::log(*log_, spdlog::level::debug, "debug2 poll failed, polling the job's format",
                {Field{"job", settings_.service}, Field{"target", settings_.target},
                 Field{"result", common::outcome_name(fetched.outcome)}, Field{"err", why}});
    return false;
  }

  void on_success(common::SteadyTime started, std::size_t bytes, const detect::Processed& processed, double now) {
    last_goroutines_ = processed.goroutines;
    series_->record_success(seconds_since(started), bytes, processed.goroutines, processed.groups, now);
    series_->record_detection(detector_);
    if (!processed.truncation_reason.empty()) {
      common::log(*log_, spdlog::level::debug, "profile truncated",
                  {Field{"job", settings_.service}, Field{"target", settings_.target},
                   Field{"reason", processed.truncation_reason}});
    }
    if (!last_ok_) {
      common::log(*log_, spdlog::level::info, "target recovered",
                  {Field{"job", settings_.service}, Field{"target", settings_.target}});
    }
    last_ok_ = true;
    for (const detect::Event& e : processed.events) log_alert(e);
  }

  // Returns whether the poll succeeded.
  bool record(common::SteadyTime started, common::FetchResult fetched) {
    record_cost(settings_.profile.kind, settings_.profile.format.value_or(pprof::Format::debug1), started, fetched);
    if (fetched.outcome == Outcome::success) {
      const double now = clock_.unix_seconds();
      auto processed = detect::process_profile(fetched.body, settings_.profile, detector_, now);
      if (processed) {
        on_success(started, fetched.body.size(), *processed, now);
        return true;
      }
      fetched.outcome = Outcome::parse_error;
      fetched.error = processed.error().message;
    }
    series_->record_failure(fetched.outcome, seconds_since(started));
    // One line when a target goes bad, then debug lines: a target down for a day must not flood the log.
    const auto level = last_ok_ ? spdlog::level::warn : spdlog::level::debug;
    common::log(*log_, level, "poll failed",
                {Field{"job", settings_.service}, Field{"target", settings_.target},
                 Field{"result", common::outcome_name(fetched.outcome)}, Field{"err", fetched.error}});
    last_ok_ = false;
    return false;
  }

  void record_proof(common::SteadyTime started, common::FetchResult fetched) {
    using Poll = LeakProofSettings::Poll;
    detect::ProfileSettings proof = settings_.profile;
    proof.kind = pprof::ProfileKind::goroutineleak;
    proof.format = pprof::Format::debug1;
    record_cost(proof.kind, *proof.format, started, fetched);
    if (fetched.outcome == Outcome::success) {
      auto processed = detect::process_leak_proof(fetched.body, proof, detector_, clock_.unix_seconds());
      if (processed) {
        series_->record_leak_proof(Outcome::success, true, false, detector_);
        series_->record_detection(detector_);
        if (proof_state_ != ProofState::ok) {
          common::log(*log_, spdlog::level::info, "goroutineleak profile read",
                      {Field{"job", settings_.service}, Field{"target", settings_.target},
                       Field{"leaked", std::to_string(processed->goroutines)}});
        }
        proof_state_ = ProofState::ok;
        for (const detect::Event& e : processed->events) log_alert(e);
        return;
      }
      fetched.outcome = Outcome::parse_error;
      fetched.error = processed.error().message;
    }
    // net/http/pprof answers 404 for a profile the runtime does not have (Go before 1.27, without the
    // experiment): with poll: auto that is the answer to "does it offer one?", not a failure.
    const bool offered = !(fetched.outcome == Outcome::http_error && fetched.status == 404);
    const bool failed = offered || settings_.leak_proof.poll == Poll::always;
    series_->record_leak_proof(fetched.outcome, offered, failed, detector_);
    const ProofState now = failed ? ProofState::failing : ProofState::not_offered;
    if (now != proof_state_) {
      const auto level = now == ProofState::failing ? spdlog::level::warn : spdlog::level::info;
      common::log(*log_, level,
                  now == ProofState::failing ? "goroutineleak poll failed" : "target offers no goroutineleak profile",
                  {Field{"job", settings_.service}, Field{"target", settings_.target},
                   Field{"result", common::outcome_name(fetched.outcome)}, Field{"err", fetched.error}});
    }
    proof_state_ = now;
  }

  void log_alert(const detect::Event& e) {
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
                   Field{"evidence", detect::evidence_name(e.evidence)}, Field{"growth_per_min", growth},
                   Field{"p_value", p}});
    }
  }

  void crash(const std::string& what) {
    common::log(*log_, spdlog::level::err, "poll loop failed",
                {Field{"job", settings_.service}, Field{"target", settings_.target}, Field{"err", what}});
    auto hook = hooks_.on_crash;
    finish();
    if (hook) hook(what);
  }

  void finish() {
    if (state_ != State::stopped && hooks_.on_finished) hooks_.on_finished(detector_.priors());
    state_ = State::stopped;
    stopping_ = true;  // a callback still pending (after a crash) then only finishes again
    series_.reset();   // before on_stopped: a successor with the same labels must not share these series
    auto callbacks = std::move(on_stopped_);
    on_stopped_.clear();
    for (auto& cb : callbacks) cb();
  }

  asio::strand<asio::io_context::executor_type> strand_;
  LoopSettings settings_;
  std::unique_ptr<common::Fetcher> fetcher_;
  std::shared_ptr<TargetSeries> series_;
  common::Clock& clock_;
  std::unique_ptr<common::Timer> timer_;
  detect::TargetDetector detector_;
  LoopHooks hooks_;
  std::shared_ptr<spdlog::logger> log_;
  State state_ = State::idle;
  bool stopping_ = false;
  bool last_ok_ = true;  // for logging only state changes, not every failed poll
  // The proof's last outcome, for logging only its changes.
  enum class ProofState { unknown, ok, not_offered, failing } proof_state_ = ProofState::unknown;
  common::SteadyTime scheduled_{};
  common::SteadyTime next_proof_{};  // the proof is due at the first poll at or after this
  detect::Debug2Cadence debug2_;
  std::uint64_t last_goroutines_ = 0;
  std::vector<std::function<void()>> on_stopped_;
};

Loop::Loop(asio::io_context& io, LoopSettings settings, std::unique_ptr<common::Fetcher> fetcher,
           std::shared_ptr<TargetSeries> series, common::Clock& clock, LoopHooks hooks, detect::Priors priors)
    : impl_(std::make_shared<Impl>(io, std::move(settings), std::move(fetcher), std::move(series), clock,
                                   std::move(hooks), std::move(priors))) {}

Loop::~Loop() = default;

void Loop::start() { impl_->start(); }

void Loop::stop(std::function<void()> on_stopped) { impl_->stop(std::move(on_stopped)); }

const LoopSettings& Loop::settings() const noexcept { return impl_->settings(); }

}  // namespace leakwatch::scrape
