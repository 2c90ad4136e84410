// The poll loop with a fake fetcher and a manual clock: every outcome, stop at every stage, series removal
// and a schedule that never drifts. No sockets, no sleeps: time moves only when the test advances it.

#include "leakwatch/scrape/loop.hpp"
#include "leakwatch/scrape/schedule.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include <deque>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace leakwatch;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

std::string read_testdata(const std::string& name) {
  std::ifstream in(std::string(LEAKWATCH_TESTDATA_DIR) + "/pprof/" + name, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Answers each fetch with the next scripted result, posted to the io_context (never inside fetch()). A fetch
// with no scripted result stays pending until the test calls complete() or the loop calls cancel().
class FakeFetcher : public common::Fetcher {
 public:
  struct Shared {
    std::deque<common::FetchResult> script;
    std::vector<common::SteadyTime> calls;  // the clock's time at each fetch
    std::vector<std::string> targets;       // what each fetch asked for
    std::vector<std::uint64_t> limits;      // ... and with which body limit (0: the fetcher's)
    std::vector<common::SteadyTime> deadlines;
    std::function<void(common::FetchResult)> pending;
    int cancels = 0;
    std::chrono::milliseconds takes{0};  // how far a fetch moves the clock before it answers
  };

  FakeFetcher(asio::io_context& io, common::ManualClock& clock, std::shared_ptr<Shared> shared)
      : io_(io), clock_(clock), shared_(std::move(shared)) {}

  void fetch(const common::FetchRequest& request, common::SteadyTime deadline,
             std::function<void(common::FetchResult)> done) override {
    shared_->calls.push_back(clock_.steady_now());
    shared_->targets.emplace_back(request.target);
    shared_->limits.push_back(request.body_limit);
    shared_->deadlines.push_back(deadline);
    if (shared_->script.empty()) {
      shared_->pending = std::move(done);
      return;
    }
    auto r = std::move(shared_->script.front());
    shared_->script.pop_front();
    if (shared_->takes.count() > 0) clock_.advance(shared_->takes);
    asio::post(io_, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }

  void cancel() noexcept override {
    ++shared_->cancels;
    if (auto done = std::move(shared_->pending)) {
      shared_->pending = nullptr;
      common::FetchResult r;
      r.error = "cancelled";
      asio::post(io_, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
    }
  }

 private:
  asio::io_context& io_;
  common::ManualClock& clock_;
  std::shared_ptr<Shared> shared_;
};

common::FetchResult ok(std::string body) {
  common::FetchResult r;
  r.outcome = common::Outcome::success;
  r.status = 200;
  r.body = std::move(body);
  return r;
}

common::FetchResult failed(common::Outcome o) {
  common::FetchResult r;
  r.outcome = o;
  r.error = "scripted " + std::string(common::outcome_name(o));
  return r;
}

scrape::LoopSettings settings() {
  scrape::LoopSettings s;
  s.service = "api";
  s.target = "127.0.0.1:6060";
  s.labels = {{"service", "api"}, {"target", "127.0.0.1:6060"}};
  s.interval = common::Duration{10'000};
  s.timeout = common::Duration{4'000};
  s.profile.format = pprof::Format::debug1;
  s.request.target = "/debug/pprof/goroutine?debug=1";
  s.detection.warmup = common::Duration{0};
  return s;
}

struct Fixture {
  asio::io_context io;
  common::ManualClock clock;
  scrape::SeriesSet set;
  std::shared_ptr<FakeFetcher::Shared> fetches = std::make_shared<FakeFetcher::Shared>();
  std::vector<std::string> crashes;
  std::unique_ptr<scrape::Loop> loop;

  explicit Fixture(scrape::LoopSettings s = settings()) {
    scrape::LoopHooks hooks;
    hooks.on_crash = [this](const std::string& what) { crashes.push_back(what); };
    loop = std::make_unique<scrape::Loop>(io, std::move(s), std::make_unique<FakeFetcher>(io, clock, fetches),
                                          set.add({{"service", "api"}, {"target", "127.0.0.1:6060"}},
                                                  pprof::ProfileKind::goroutine),
                                          clock, std::move(hooks));
  }

  ~Fixture() {
    loop->stop({});
    drain();
  }

  void drain() {
    io.restart();
    io.poll();
  }
  // Moves the clock to the next pending timer and delivers what that causes.
  void next_tick() {
    drain();
    const auto at = clock.next_deadline();
    REQUIRE(at.has_value());
    clock.advance_to(*at);
    drain();
  }
  std::string metrics() const {
    std::string out;
    set.write(out);
    return out;
  }
  bool has(const std::string& line) const { return metrics().find(line + "\n") != std::string::npos; }
};

const std::string kLabels = R"(service="api",target="127.0.0.1:6060")";

}  // namespace

TEST_CASE("loop: a successful poll records the profile and feeds detection", "[scrape]") {
  Fixture f;
  f.fetches->script.push_back(ok(read_testdata("patterns.debug1.txt")));
  f.loop->start();
  f.next_tick();
  REQUIRE(f.fetches->calls.size() == 1);
  CHECK(f.fetches->deadlines[0] == f.fetches->calls[0] + 4s);
  CHECK(f.has("leakwatch_goroutines{" + kLabels + "} 63"));
  CHECK(f.has("leakwatch_scrape_success{" + kLabels + "} 1"));
  CHECK(f.has("leakwatch_scrapes_total{" + kLabels + ",result=\"success\"} 1"));
  CHECK(f.has("leakwatch_goroutines_alert_state{" + kLabels + "} 0"));
  CHECK(f.metrics().find("leakwatch_stack_goroutines{" + kLabels + ",function=\"main.chanSend\"") != std::string::npos);
}

TEST_CASE("loop: every failure outcome is counted under its result; bad bodies are parse errors", "[scrape]") {
  Fixture f;
  for (auto o : {common::Outcome::timeout, common::Outcome::connect_error, common::Outcome::http_error,
                 common::Outcome::too_large}) {
    f.fetches->script.push_back(failed(o));
  }
  f.fetches->script.push_back(ok("<html>not a profile</html>"));
  f.fetches->script.push_back(ok(read_testdata("goroutineleak.debug1.txt")));  // the other kind
  f.loop->start();
  for (int i = 0; i < 6; ++i) f.next_tick();
  REQUIRE(f.fetches->calls.size() == 6);
  for (const char* r : {"timeout", "connect_error", "http_error", "too_large"}) {
    CHECK(f.has("leakwatch_scrapes_total{" + kLabels + ",result=\"" + r + "\"} 1"));
  }
  CHECK(f.has("leakwatch_scrapes_total{" + kLabels + ",result=\"parse_error\"} 2"));
  CHECK(f.has("leakwatch_scrapes_total{" + kLabels + ",result=\"success\"} 0"));
  CHECK(f.has("leakwatch_scrape_success{" + kLabels + "} 0"));
  // No successful poll yet: no count to report.
  CHECK(f.metrics().find("leakwatch_goroutines{") == std::string::npos);
  CHECK(f.metrics().find("leakwatch_goroutines_alert_state{") == std::string::npos);
}

TEST_CASE("loop: polls stay on the grid first + k*interval, whatever a poll takes", "[scrape]") {
  Fixture f;
  f.fetches->takes = 3s;  // each poll takes 3 s of the 10 s interval
  for (int i = 0; i < 5; ++i) f.fetches->script.push_back(ok(read_testdata("patterns.debug1.txt")));
  const auto steady0 = f.clock.steady_now();
  const auto wall0 = f.clock.system_now();
  f.loop->start();
  for (int i = 0; i < 5; ++i) f.next_tick();
  REQUIRE(f.fetches->calls.size() == 5);
  // The first poll sits at the target's offset in wall time, the rest exactly one interval apart.
  const auto& s = f.loop->settings();
  const auto first = f.fetches->calls[0];
  CHECK(first ==
        scrape::first_tick(steady0, wall0, s.interval, scrape::schedule_offset("api/127.0.0.1:6060", s.interval)));
  for (std::size_t i = 1; i < f.fetches->calls.size(); ++i) {
    CHECK(f.fetches->calls[i] - first == std::chrono::seconds(10 * i));
  }
}

TEST_CASE("loop: a poll that overruns skips the ticks it missed, and stays on the grid", "[scrape]") {
  Fixture f;
  f.fetches->takes = 25s;  // longer than two intervals
  for (int i = 0; i < 3; ++i) f.fetches->script.push_back(ok(read_testdata("patterns.debug1.txt")));
  f.loop->start();
  for (int i = 0; i < 3; ++i) f.next_tick();
  REQUIRE(f.fetches->calls.size() == 3);
  CHECK(f.fetches->calls[1] - f.fetches->calls[0] == 30s);
  CHECK(f.fetches->calls[2] - f.fetches->calls[1] == 30s);
}

TEST_CASE("loop: stop before start never polls and removes the series", "[scrape]") {
  Fixture f;
  bool stopped = false;
  f.loop->stop([&] { stopped = true; });
  f.drain();
  CHECK(stopped);
  f.loop->start();
  f.drain();
  CHECK(f.clock.pending_timers() == 0);
  CHECK(f.fetches->calls.empty());
  CHECK(f.set.size() == 0);
  CHECK(f.metrics().find(kLabels) == std::string::npos);
}

TEST_CASE("loop: stop while waiting for the next tick cancels the timer", "[scrape]") {
  Fixture f;
  f.loop->start();
  f.drain();
  REQUIRE(f.clock.pending_timers() == 1);
  bool stopped = false;
  f.loop->stop([&] { stopped = true; });
  f.drain();
  CHECK(stopped);
  CHECK(f.clock.pending_timers() == 0);
  CHECK(f.fetches->calls.empty());
  CHECK(f.set.size() == 0);
}

TEST_CASE("loop: stop during a poll cancels the fetch and records nothing", "[scrape]") {
  Fixture f;  // nothing scripted: the first fetch stays pending
  f.loop->start();
  f.next_tick();
  REQUIRE(f.fetches->calls.size() == 1);
  REQUIRE(f.fetches->pending);
  int stopped = 0;
  f.loop->stop([&] { ++stopped; });
  f.loop->stop([&] { ++stopped; });  // more than once: each caller hears back
  f.drain();
  CHECK(f.fetches->cancels >= 1);
  CHECK(stopped == 2);
  CHECK(f.set.size() == 0);
  CHECK(f.clock.pending_timers() == 0);
  // A stop after the loop ended still calls back.
  f.loop->stop([&] { ++stopped; });
  f.drain();
  CHECK(stopped == 3);
}

TEST_CASE("loop: an exception in the poll path ends the loop, removes its series and reports it", "[scrape]") {
  struct Throwing : common::Fetcher {
    void fetch(const common::FetchRequest&, common::SteadyTime, std::function<void(common::FetchResult)>) override {
      throw std::runtime_error("boom");
    }
    void cancel() noexcept override {}
  };
  asio::io_context io;
  common::ManualClock clock;
  scrape::SeriesSet set;
  std::vector<std::string> crashes;
  scrape::LoopHooks hooks;
  hooks.on_crash = [&](const std::string& what) { crashes.push_back(what); };
  scrape::Loop loop(io, settings(), std::make_unique<Throwing>(),
                    set.add({{"service", "api"}}, pprof::ProfileKind::goroutine), clock, std::move(hooks));
  loop.start();
  io.poll();
  clock.advance(10s);
  io.restart();
  io.poll();
  REQUIRE(crashes.size() == 1);
  CHECK(crashes[0] == "boom");
  CHECK(set.size() == 0);
  CHECK(clock.pending_timers() == 0);
  bool stopped = false;
  loop.stop([&] { stopped = true; });
  io.restart();
  io.poll();
  CHECK(stopped);
}

namespace {

// The runtime's proof for patterns.debug1.txt's process: its main.chanSend group, proved leaked.
const std::string kChanSendProof =
    "goroutineleak profile: total 3\n"
    "3 @ 0x43b256 0x40708c 0x406c3d 0x6743e5 0x46b221\n"
    "#\t0x6743e4\tmain.chanSend+0x24\tleakwatch/targets/patterns/main.go:35\n\n";

scrape::LoopSettings with_proof(scrape::LeakProofSettings::Poll poll) {
  scrape::LoopSettings s = settings();
  s.detection.warmup = common::Duration{1'800'000};  // the proof needs no trend, so not the end of warm-up either
  s.leak_proof.poll = poll;
  s.leak_proof.interval = common::Duration{60'000};
  s.leak_proof.target = "/debug/pprof/goroutineleak?debug=1";
  return s;
}

common::FetchResult not_found() {
  common::FetchResult r = failed(common::Outcome::http_error);
  r.status = 404;
  r.body = "Unknown profile\n";
  return r;
}

}  // namespace

TEST_CASE("loop: the runtime's proof follows the first poll, then every proof interval, and fires", "[scrape]") {
  Fixture f(with_proof(scrape::LeakProofSettings::Poll::auto_detect));
  const std::string profile = read_testdata("patterns.debug1.txt");
  f.fetches->script.push_back(ok(profile));
  f.fetches->script.push_back(ok(kChanSendProof));
  for (int i = 0; i < 6; ++i) f.fetches->script.push_back(ok(profile));  // 60 s of 10 s polls
  f.fetches->script.push_back(ok(kChanSendProof));
  f.loop->start();
  f.next_tick();
  REQUIRE(f.fetches->targets.size() == 2);
  CHECK(f.fetches->targets[0] == "/debug/pprof/goroutine?debug=1");
  CHECK(f.fetches->targets[1] == "/debug/pprof/goroutineleak?debug=1");
  CHECK(f.fetches->deadlines[1] == f.fetches->calls[1] + 4s);

  const std::string chan_send = kLabels +
                                R"(,function="main.chanSend",location="leakwatch/targets/patterns/main.go:35",)"
                                R"(signature=")";
  const std::string m = f.metrics();
  CHECK(f.has("leakwatch_leaked_goroutines{" + kLabels + "} 3"));
  CHECK(f.has("leakwatch_leaked_stack_groups{" + kLabels + "} 1"));
  CHECK(f.has("leakwatch_goroutineleak_offered{" + kLabels + "} 1"));
  CHECK(f.has("leakwatch_goroutineleak_scrapes_total{" + kLabels + ",result=\"success\"} 1"));
  CHECK(f.metrics().find("leakwatch_goroutineleak_scrapes_total{" + kLabels + ",result=\"not_offered\"}") ==
        std::string::npos);  // results appear when they occur
  CHECK(f.has("leakwatch_profile_fetches_total{" + kLabels + ",profile=\"goroutine\",format=\"debug1\"} 1"));
  CHECK(f.has("leakwatch_profile_fetches_total{" + kLabels + ",profile=\"goroutineleak\",format=\"debug1\"} 1"));
  CHECK(f.has("leakwatch_profile_fetch_bytes_total{" + kLabels + ",profile=\"goroutineleak\",format=\"debug1\"} " +
              std::to_string(kChanSendProof.size())));
  // The group fires on the proof within the warm-up, and every series of it says on which evidence.
  const auto alert = m.find("leakwatch_stack_alert_state{" + chan_send);
  REQUIRE(alert != std::string::npos);
  const std::string line = m.substr(alert, m.find('\n', alert) - alert);
  CHECK(line.find(R"(evidence="runtime"} 2)") != std::string::npos);
  CHECK(m.find("leakwatch_stack_leaked_goroutines{" + chan_send) != std::string::npos);
  CHECK(m.find(R"(function="main.nilChanRecv",location="leakwatch/targets/patterns/main.go:59",signature=")") !=
        std::string::npos);
  CHECK(m.find(R"(evidence="trend"} 0)") != std::string::npos);

  // No second proof before its interval: the next 5 polls are goroutine profiles only; the 6th poll (60 s on)
  // brings it again.
  for (int i = 0; i < 5; ++i) f.next_tick();
  CHECK(f.fetches->targets.size() == 7);
  f.next_tick();
  REQUIRE(f.fetches->targets.size() == 9);
  CHECK(f.fetches->targets[8] == "/debug/pprof/goroutineleak?debug=1");
  CHECK(f.has("leakwatch_goroutineleak_scrapes_total{" + kLabels + ",result=\"success\"} 2"));
  CHECK(f.crashes.empty());
}

TEST_CASE("loop: a 404 for the proof is 'not offered' with poll: auto, an error with poll: always", "[scrape]") {
  for (const auto poll : {scrape::LeakProofSettings::Poll::auto_detect, scrape::LeakProofSettings::Poll::always}) {
    Fixture f(with_proof(poll));
    f.fetches->script.push_back(ok(read_testdata("patterns.debug1.txt")));
    f.fetches->script.push_back(not_found());
    f.loop->start();
    f.next_tick();
    REQUIRE(f.fetches->targets.size() == 2);
    const bool auto_detect = poll == scrape::LeakProofSettings::Poll::auto_detect;
    CHECK(f.has("leakwatch_goroutineleak_offered{" + kLabels + "} 0"));  // either way it has none
    const std::string result = auto_detect ? "not_offered" : "http_error";
    const std::string other = auto_detect ? "http_error" : "not_offered";
    CHECK(f.has("leakwatch_goroutineleak_scrapes_total{" + kLabels + ",result=\"" + result + "\"} 1"));
    CHECK(f.metrics().find("leakwatch_goroutineleak_scrapes_total{" + kLabels + ",result=\"" + other + "\"}") ==
          std::string::npos);
    // The goroutine job itself is fine either way, and there is no proof to report.
    CHECK(f.has("leakwatch_scrape_success{" + kLabels + "} 1"));
    CHECK(f.metrics().find("leakwatch_leaked_goroutines{") == std::string::npos);
  }
}

TEST_CASE("loop: no proof after a failed poll, none with poll: never, and a wrong body is a parse error", "[scrape]") {
  {
    Fixture f(with_proof(scrape::LeakProofSettings::Poll::never));
    for (int i = 0; i < 3; ++i) f.fetches->script.push_back(ok(read_testdata("patterns.debug1.txt")));
    f.loop->start();
    for (int i = 0; i < 3; ++i) f.next_tick();
    CHECK(f.fetches->targets.size() == 3);
    CHECK(f.metrics().find("leakwatch_goroutineleak_scrapes_total{") == std::string::npos);
  }
  {
    Fixture f(with_proof(scrape::LeakProofSettings::Poll::auto_detect));
    f.fetches->script.push_back(failed(common::Outcome::timeout));
    f.fetches->script.push_back(ok(read_testdata("patterns.debug1.txt")));
    f.fetches->script.push_back(ok(read_testdata("patterns.debug1.txt")));  // a goroutine profile as the proof
    f.loop->start();
    f.next_tick();
    CHECK(f.fetches->targets.size() == 1);  // the target is down: not asked twice
    f.next_tick();
    REQUIRE(f.fetches->targets.size() == 3);
    CHECK(f.has("leakwatch_goroutineleak_scrapes_total{" + kLabels + ",result=\"parse_error\"} 1"));
    CHECK(f.metrics().find("leakwatch_leaked_goroutines{") == std::string::npos);
  }
}

TEST_CASE("loop: stop() during the proof's fetch cancels it and stops", "[scrape]") {
  Fixture f(with_proof(scrape::LeakProofSettings::Poll::auto_detect));
  f.fetches->script.push_back(ok(read_testdata("patterns.debug1.txt")));
  f.loop->start();
  f.next_tick();
  REQUIRE(f.fetches->targets.size() == 2);  // the proof's fetch is pending
  bool stopped = false;
  f.loop->stop([&] { stopped = true; });
  f.drain();
  CHECK(stopped);
  CHECK(f.fetches->cancels == 1);
  CHECK(f.set.size() == 0);
}

TEST_CASE("loop: it starts from the workload's priors and hands what it knows on when it ends", "[scrape]") {
  asio::io_context io;
  common::ManualClock clock;
  scrape::SeriesSet set;
  auto fetches = std::make_shared<FakeFetcher::Shared>();
  std::vector<detect::Priors> finished;
  scrape::LoopHooks hooks;
  hooks.on_finished = [&](detect::Priors p) { finished.push_back(std::move(p)); };
  const detect::Priors priors{{0x1234, detect::Recurrence{2, 1.7e9}}};
  auto loop = std::make_unique<scrape::Loop>(io, settings(), std::make_unique<FakeFetcher>(io, clock, fetches),
                                             set.add({{"service", "api"}}, pprof::ProfileKind::goroutine), clock,
                                             std::move(hooks), priors);
  fetches->script.push_back(ok(read_testdata("patterns.debug1.txt")));
  loop->start();
  io.restart();
  io.poll();
  clock.advance_to(*clock.next_deadline());
  io.restart();
  io.poll();
  REQUIRE(fetches->calls.size() == 1);
  loop->stop({});
  loop->stop({});  // twice: still one hand-over
  io.restart();
  io.poll();
  REQUIRE(finished.size() == 1);
  // The signature the target never showed keeps its prior (the poll was too short to judge it).
  REQUIRE(finished[0].count(0x1234) == 1);
  CHECK(finished[0].at(0x1234).instances == 2);
}

namespace {

scrape::LoopSettings with_debug2() {
  scrape::LoopSettings s = settings();
  s.debug2.interval = common::Duration{60'000};
  s.debug2.min_interval = common::Duration{20'000};
  s.debug2.max_goroutines = 1000;
  s.debug2.max_bytes = 1 << 20;
  s.debug2.target = "/debug/pprof/goroutine?debug=2";
  return s;
}

}  // namespace

TEST_CASE("loop: debug=2 replaces the job's format every debug2 interval, within its size limit", "[scrape]") {
  Fixture f(with_debug2());
  const std::string d1 = read_testdata("patterns.debug1.txt");
  for (int i = 0; i < 6; ++i) f.fetches->script.push_back(ok(d1));
  f.fetches->script.push_back(ok(read_testdata("patterns.debug2.txt")));
  f.loop->start();
  for (int i = 0; i < 7; ++i) f.next_tick();
  REQUIRE(f.fetches->targets.size() == 7);
  for (int i = 0; i < 6; ++i) CHECK(f.fetches->targets[i] == "/debug/pprof/goroutine?debug=1");
  CHECK(f.fetches->targets[6] == "/debug/pprof/goroutine?debug=2");  // 60 s after the first poll
  CHECK(f.fetches->limits[0] == 0);
  CHECK(f.fetches->limits[6] == 1u << 20);
  CHECK(f.has("leakwatch_scrapes_total{" + kLabels + ",result=\"success\"} 7"));
  CHECK(f.has("leakwatch_goroutines{" + kLabels + "} 63"));  // the same process, read from debug=2
  CHECK(f.has("leakwatch_profile_fetches_total{" + kLabels + ",profile=\"goroutine\",format=\"debug1\"} 6"));
  CHECK(f.has("leakwatch_profile_fetches_total{" + kLabels + ",profile=\"goroutine\",format=\"debug2\"} 1"));
  CHECK(f.crashes.empty());
}

TEST_CASE("loop: a failed debug=2 poll falls back to the job's format at once; big targets get none", "[scrape]") {
  {
    Fixture f(with_debug2());
    const std::string d1 = read_testdata("patterns.debug1.txt");
    for (int i = 0; i < 6; ++i) f.fetches->script.push_back(ok(d1));
    f.fetches->script.push_back(failed(common::Outcome::too_large));  // debug=2 over max_bytes
    f.fetches->script.push_back(ok(d1));
    f.loop->start();
    for (int i = 0; i < 7; ++i) f.next_tick();
    REQUIRE(f.fetches->targets.size() == 8);
    CHECK(f.fetches->targets[6] == "/debug/pprof/goroutine?debug=2");
    CHECK(f.fetches->targets[7] == "/debug/pprof/goroutine?debug=1");
    CHECK(f.fetches->calls[7] == f.fetches->calls[6]);  // the same tick
    CHECK(f.has("leakwatch_scrapes_total{" + kLabels + ",result=\"success\"} 7"));
    CHECK(f.has("leakwatch_scrapes_total{" + kLabels + ",result=\"too_large\"} 0"));
    CHECK(f.has("leakwatch_scrape_success{" + kLabels + "} 1"));
    CHECK(f.has("leakwatch_profile_fetches_total{" + kLabels + ",profile=\"goroutine\",format=\"debug2\"} 1"));
  }
  {
    scrape::LoopSettings s = with_debug2();
    s.debug2.max_goroutines = 50;  // patterns.debug1.txt holds 63
    Fixture f(s);
    for (int i = 0; i < 8; ++i) f.fetches->script.push_back(ok(read_testdata("patterns.debug1.txt")));
    f.loop->start();
    for (int i = 0; i < 8; ++i) f.next_tick();
    REQUIRE(f.fetches->targets.size() == 8);
    for (const auto& t : f.fetches->targets) CHECK(t == "/debug/pprof/goroutine?debug=1");
  }
}
