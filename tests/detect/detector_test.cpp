#include "leakwatch/detect/detector.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace leakwatch;
using detect::Event;
using detect::Scope;
using detect::TargetDetector;
using detect::Transition;

namespace {

constexpr double kT0 = 1.7e9;
constexpr double kStep = 15;

// Frames view their names (pprof/profile.hpp): keep the generated ones ("main.f7") for the whole run.
std::string_view kept(std::string_view s) {
  static pprof::StringPool pool;
  return pool.intern(s);
}

pprof::StackGroup group(std::string_view function, std::uint64_t count, std::uint32_t line = 10,
                        std::vector<pprof::Frame> leafward = {}) {
  pprof::StackGroup g;
  g.count = count;
  g.frames = std::move(leafward);
  g.frames.push_back({kept(function), "/app/main.go", line});
  g.frames.push_back({"main.main", "/app/main.go", 99});
  return g;
}

pprof::Profile profile_of(std::vector<pprof::StackGroup> groups) {
  pprof::Profile p;
  for (const auto& g : groups) p.total += g.count;
  p.groups = std::move(groups);
  return p;
}

// Feeds polls every 15 s for `minutes`, the groups of each from make(minute); returns every event.
std::vector<Event> run(TargetDetector& d, double from_minute, double minutes,
                       const std::function<std::vector<pprof::StackGroup>(double)>& make) {
  std::vector<Event> all;
  for (double m = from_minute; m < from_minute + minutes; m += kStep / 60) {
    auto events = d.observe(kT0 + m * 60, profile_of(make(m)));
    all.insert(all.end(), events.begin(), events.end());
  }
  return all;
}

const Event* first(const std::vector<Event>& events, Scope scope, Transition state) {
  for (const auto& e : events) {
    if (e.scope == scope && e.state == state) return &e;
  }
  return nullptr;
}

double minute_of(const Event& e) { return (e.t - kT0) / 60; }

}  // namespace

TEST_CASE("a leak that starts after warm-up fires, naming its function and line", "[detect]") {
  TargetDetector d{detect::Options{}};
  std::mt19937 rng(1);
  std::poisson_distribution<int> load(200);
  const auto events = run(d, 0, 90, [&](double m) {
    const auto leaked = static_cast<std::uint64_t>(m < 40 ? 0 : std::floor(3 * (m - 40)));
    std::vector<pprof::StackGroup> g{group("main.worker", static_cast<std::uint64_t>(load(rng)), 20)};
    if (leaked > 0) g.push_back(group("main.leak", leaked));
    return g;
  });

  const Event* pending = first(events, Scope::stack, Transition::pending);
  const Event* firing = first(events, Scope::stack, Transition::firing);
  REQUIRE(pending != nullptr);
  REQUIRE(firing != nullptr);
  CHECK(firing->function == "main.leak");
  CHECK(firing->location == "/app/main.go:10");
  CHECK(firing->slope_per_second * 60 == Approx(3).epsilon(0.1));
  CHECK(firing->p_value < 0.01);
  // Enough evidence takes min_duration (5m) of growth; then `for` (5m) of pending, and firing also waits until
  // the group's arrivals are shown to keep pace over its life (held for `for` too): at 3 a minute, about
  // 45 minutes of it, some 130 arrivals.
  CHECK(minute_of(*pending) >= 45);
  CHECK(minute_of(*pending) < 48);
  CHECK(minute_of(*firing) - minute_of(*pending) >= 5);
  CHECK(minute_of(*firing) < 40 + 50);
  for (const auto& e : events) CHECK(e.function != "main.worker");

  // The total grows because of the leak, so it alerts too, without naming a function.
  const Event* total = first(events, Scope::total, Transition::firing);
  REQUIRE(total != nullptr);
  CHECK(total->function.empty());
  CHECK(d.total().state == detect::AlertState::firing);

  const auto top = d.top_stacks();
  REQUIRE_FALSE(top.empty());
  CHECK(top.front().function == "main.leak");  // active alerts are exported first
  CHECK(top.front().state == detect::AlertState::firing);
}

TEST_CASE("a bounded population that rises for hours after warm-up never fires", "[detect]") {
  // One long-lived goroutine per key, keys used up ever more slowly: 300 keys, the group approaching them
  // with a 40-minute time constant from minute 45 (after warm-up), beside a steady population that turns
  // over. It passes every windowed test for a long while (it rises significantly, the last third of the
  // window still grows at more than half the rate); only its life shows the arrivals drying up.
  TargetDetector d{detect::Options{}};
  std::mt19937 rng(3);
  std::poisson_distribution<int> load(150);
  const auto events = run(d, 0, 300, [&](double m) {
    std::vector<pprof::StackGroup> g{group("main.handler", static_cast<std::uint64_t>(load(rng)), 20)};
    if (m >= 45) {
      g.push_back(group("main.watchTenant",
                        static_cast<std::uint64_t>(std::floor(300 * (1 - std::exp(-(m - 45) / 40))))));
    }
    return g;
  });
  CHECK(first(events, Scope::stack, Transition::firing) == nullptr);
  CHECK(first(events, Scope::total, Transition::firing) == nullptr);
}

TEST_CASE("warm-up growth that saturates never alerts", "[detect]") {
  TargetDetector d{detect::Options{}};
  const auto events = run(d, 0, 120, [](double m) {
    return std::vector<pprof::StackGroup>{group("main.pool", static_cast<std::uint64_t>(15 * std::min(m, 20.0)))};
  });
  CHECK(events.empty());
}

TEST_CASE("a restart resolves active alerts and starts every series over", "[detect]") {
  TargetDetector d{detect::Options{}};
  const auto leak = [](double since) {
    return [since](double m) {
      return std::vector<pprof::StackGroup>{group("main.idle", 20, 30),
                                            group("main.leak", static_cast<std::uint64_t>(1 + 4 * (m - since)))};
    };
  };
  auto events = run(d, 0, 60, leak(0));
  REQUIRE(first(events, Scope::stack, Transition::firing) != nullptr);  // caught once warm-up has passed

  // The process restarts: 21 goroutines where there were hundreds.
  events = run(d, 60, 20, leak(60));
  REQUIRE(events.size() >= 2);
  CHECK(minute_of(events[0]) == Approx(60));
  CHECK(events[0].state == Transition::resolved);
  const Event* stack_resolved = first(events, Scope::stack, Transition::resolved);
  REQUIRE(stack_resolved != nullptr);
  CHECK(stack_resolved->function == "main.leak");
  CHECK(minute_of(*stack_resolved) == Approx(60));
  // ... and the restarted process is in its warm-up again for everything but the signature that was still
  // leaking when it went down (deploy awareness: that one goes pending once it has min_duration of evidence).
  const Event* again = first(events, Scope::stack, Transition::pending);
  REQUIRE(again != nullptr);
  CHECK(again->function == "main.leak");
  CHECK(minute_of(*again) >= 60 + 5);
  CHECK(minute_of(*again) < 60 + 7);
  // The instance that ended, and this one so far: still growing at pace.
  CHECK(d.priors().at(again->signature).instances == 2);
  CHECK(d.total().state == detect::AlertState::inactive);
}

TEST_CASE("a restart keeps warm-up for signatures that were not leaking when the instance ended", "[detect]") {
  TargetDetector d{detect::Options{}};
  auto events = run(d, 0, 60, [](double m) {
    return std::vector<pprof::StackGroup>{group("main.idle", 200, 30),
                                          group("main.leak", static_cast<std::uint64_t>(1 + 4 * m))};
  });
  REQUIRE(first(events, Scope::stack, Transition::firing) != nullptr);
  // After the restart another group grows as fast (a cache filling in the new process): warm-up holds it,
  // as it holds every group of a fresh process that was not leaking at the end of the last one.
  events = run(d, 60, 25, [](double m) {
    return std::vector<pprof::StackGroup>{group("main.idle", 20, 30),
                                          group("main.fill", static_cast<std::uint64_t>(1 + 4 * (m - 60)), 50)};
  });
  for (const auto& e : events) CHECK((e.state == Transition::resolved || e.function != "main.fill"));
}

TEST_CASE("a leak present from every instance's start is caught sooner instance after instance", "[detect]") {
  // Hourly deploys: the process restarts every 60 minutes (two polls lost each time), its leak (2 a minute,
  // a weak one: 30 minutes of warm-up plus the evidence leave little of an hour) starting with it, beside a
  // steady population that turns over.
  TargetDetector d{detect::Options{}};
  std::mt19937 rng(11);
  std::poisson_distribution<int> load(150);
  std::vector<double> fired;  // minutes since its instance's start
  for (int instance = 0; instance < 4; ++instance) {
    const double start = instance * 60.0;
    const auto events = run(d, start + (instance == 0 ? 0 : 0.5), instance == 0 ? 60 : 59.5, [&](double m) {
      return std::vector<pprof::StackGroup>{group("main.worker", static_cast<std::uint64_t>(load(rng)), 20),
                                            group("main.leak", static_cast<std::uint64_t>(2 * (m - start)))};
    });
    const Event* f = first(events, Scope::stack, Transition::firing);
    fired.push_back(f == nullptr ? -1 : minute_of(*f) - start);
    if (f != nullptr) CHECK(f->function == "main.leak");
  }
  INFO("firing, minutes into each instance: " << fired[0] << " " << fired[1] << " " << fired[2] << " " << fired[3]);
  // The first instance pays warm-up, min_duration, pace and `for` (too much for this leak in an hour); the
  // next one skips warm-up (the signature was still growing at pace when the last ended) but must show pace
  // in its own life (again too slow here); from the third on, the growth has repeated to the end of two
  // instances, which stands for pace: min_duration and `for` are left.
  CHECK((fired[0] < 0 || fired[0] >= 30));
  CHECK(fired[1] < 60);
  REQUIRE(fired[2] >= 0);
  CHECK(fired[2] < 15);
  REQUIRE(fired[3] >= 0);
  CHECK(fired[3] < 15);
}

TEST_CASE("hourly deploys of a healthy service whose pools fill at each start never fire", "[detect]") {
  TargetDetector d{detect::Options{}};
  std::mt19937 rng(12);
  std::poisson_distribution<int> load(150);
  for (int instance = 0; instance < 4; ++instance) {
    const double start = instance * 60.0;
    const auto events = run(d, start + (instance == 0 ? 0 : 0.5), instance == 0 ? 60 : 59.5, [&](double m) {
      // A pool that fills to 300 over its first 20 minutes, then stays.
      const double age = m - start;
      return std::vector<pprof::StackGroup>{
          group("main.worker", static_cast<std::uint64_t>(load(rng)), 20),
          group("main.pool", static_cast<std::uint64_t>(std::floor(15 * std::min(age, 20.0))), 40)};
    });
    CHECK(first(events, Scope::stack, Transition::firing) == nullptr);
    CHECK(first(events, Scope::total, Transition::firing) == nullptr);
  }
  CHECK(d.priors().empty());
}

TEST_CASE("priors handed to a new detector skip its warm-up for the signatures they name", "[detect]") {
  TargetDetector old{detect::Options{}};
  const auto leak = [](double since) {
    return [since](double m) {
      return std::vector<pprof::StackGroup>{group("main.idle", 20, 30),
                                            group("main.leak", static_cast<std::uint64_t>(1 + 4 * (m - since)))};
    };
  };
  run(old, 0, 60, leak(0));
  const detect::Priors priors = old.priors();
  REQUIRE(priors.size() == 1);
  CHECK(priors.begin()->second.instances == 1);

  // The next pod of the workload: a new target, a new detector.
  TargetDetector next{detect::Options{}};
  next.adopt(priors);
  const auto events = run(next, 100, 10, leak(100));
  const Event* pending = first(events, Scope::stack, Transition::pending);
  REQUIRE(pending != nullptr);
  CHECK(minute_of(*pending) < 100 + 7);
  TargetDetector fresh{detect::Options{}};
  CHECK(first(run(fresh, 100, 10, leak(100)), Scope::stack, Transition::pending) == nullptr);
}

TEST_CASE("goroutines in network I/O do not make a leak alert however they grow", "[detect]") {
  TargetDetector d{detect::Options{}};
  const std::vector<pprof::Frame> netpoll{{"internal/poll.runtime_pollWait", "/go/src/runtime/netpoll.go", 305},
                                          {"internal/poll.(*pollDesc).wait", "/go/src/internal/poll/fd.go", 84},
                                          {"net.(*conn).Read", "/go/src/net/net.go", 183}};
  const auto events = run(d, 0, 90, [&](double m) {
    return std::vector<pprof::StackGroup>{group("main.readLoop", static_cast<std::uint64_t>(10 + 3 * m), 40, netpoll)};
  });
  CHECK(first(events, Scope::stack, Transition::pending) == nullptr);
  // Nor does the total, since no leak-like group explains its growth.
  CHECK(first(events, Scope::total, Transition::pending) == nullptr);
  REQUIRE(d.top_stacks().size() == 1);
  CHECK(d.top_stacks()[0].function == "main.readLoop");
  CHECK(d.top_stacks()[0].slope_per_second * 60 == Approx(3).epsilon(0.05));
}

namespace {

const std::vector<pprof::Frame> kNetpoll{{"internal/poll.runtime_pollWait", "/go/src/runtime/netpoll.go", 305},
                                         {"internal/poll.(*pollDesc).wait", "/go/src/internal/poll/fd.go", 84},
                                         {"net.(*conn).Read", "/go/src/net/net.go", 183}};

// A group in I/O wait as debug=2 shows it: with states and its oldest goroutine's wait minutes.
pprof::StackGroup io_group(std::uint64_t count, std::uint32_t oldest_minutes) {
  pprof::StackGroup g = group("main.readReply", count, 40, kNetpoll);
  g.states = {{"IO wait", count}};
  g.wait_minutes.max_minutes = oldest_minutes;
  return g;
}

}  // namespace

TEST_CASE("goroutines in I/O wait leak when debug=2 shows the oldest of them waiting ever longer", "[detect]") {
  // Reads without a deadline on peers that went silent, 3 a minute from minute 40: every 10th poll (2.5 min)
  // is debug=2, whose oldest wait grows with the time since the leak began (the runtime's clock lags by up to
  // two minutes).
  TargetDetector d{detect::Options{}};
  std::mt19937 rng(5);
  std::poisson_distribution<int> load(100);
  int poll = 0;
  const auto events = run(d, 0, 120, [&](double m) {
    const double age = std::max(0.0, m - 40);
    const auto count = static_cast<std::uint64_t>(5 + 3 * age);
    std::vector<pprof::StackGroup> g{group("main.worker", static_cast<std::uint64_t>(load(rng)), 20)};
    if (poll++ % 10 == 0) {
      g.push_back(io_group(count, static_cast<std::uint32_t>(std::max(0.0, age - 2))));
    } else {
      g.push_back(group("main.readReply", count, 40, kNetpoll));
    }
    return g;
  });
  const Event* firing = first(events, Scope::stack, Transition::firing);
  REQUIRE(firing != nullptr);
  CHECK(firing->function == "main.readReply");
  CHECK(minute_of(*firing) > 40);
  CHECK(minute_of(*firing) < 40 + 50);
}

TEST_CASE("keep-alive connections in I/O wait never leak: their waits restart with each request", "[detect]") {
  // A connection pool growing with demand (the same growth as above), each connection used every few
  // minutes: debug=2 shows the oldest wait at a few minutes, never growing with the window.
  TargetDetector d{detect::Options{}};
  int poll = 0;
  std::vector<Event> events = run(d, 0, 120, [&](double m) {
    const auto count = static_cast<std::uint64_t>(5 + 3 * std::max(0.0, m - 40));
    if (poll++ % 10 == 0) return std::vector<pprof::StackGroup>{io_group(count, 4)};
    return std::vector<pprof::StackGroup>{group("main.readReply", count, 40, kNetpoll)};
  });
  CHECK(first(events, Scope::stack, Transition::pending) == nullptr);
  // Nor an I/O group seen only through debug=1: nothing shows that its goroutines stay.
  TargetDetector plain{detect::Options{}};
  events = run(plain, 0, 120, [&](double m) {
    return std::vector<pprof::StackGroup>{
        group("main.readReply", static_cast<std::uint64_t>(5 + 3 * std::max(0.0, m - 40)), 40, kNetpoll)};
  });
  CHECK(first(events, Scope::stack, Transition::pending) == nullptr);
  CHECK(plain.wants_wait_evidence());  // a candidate in I/O: the loop asks for debug=2 sooner
  // ... and once it has one, not again for min_duration (5m): minutes of wait change slowly.
  pprof::Profile p = profile_of({io_group(5 + 3 * 80, 3)});
  REQUIRE(plain.observe(kT0 + 120 * 60, std::move(p)).empty());
  CHECK_FALSE(plain.wants_wait_evidence());
  const auto later = run(plain, 120.25, 5, [](double m) {
    return std::vector<pprof::StackGroup>{
        group("main.readReply", static_cast<std::uint64_t>(5 + 3 * (m - 40)), 40, kNetpoll)};
  });
  CHECK(later.empty());
  CHECK(plain.wants_wait_evidence());
}

namespace {

// Goroutines in one time.Sleep loop, each with its own ID as the runtime hands them out, and each ending at
// its own minute (infinity: a loop that never exits). Every 8th poll is debug=2: states, and the sample of
// IDs detection counts survivors with.
struct SleepLoops {
  std::mt19937 rng{11};
  std::uint64_t next_id = 100;
  std::vector<std::pair<std::uint64_t, double>> live;  // id, minute it ends
  int poll = 0;

  void spawn(double ends) { live.emplace_back(next_id++, ends); }

  pprof::Profile sample(double m, bool debug2_too = true) {
    std::erase_if(live, [&](const auto& g) { return g.second <= m; });
    const std::vector<pprof::Frame> sleep{{"time.Sleep", "/go/src/runtime/time.go", 300}};
    pprof::StackGroup g = group("main.pollStatus", live.size(), 30, sleep);
    pprof::Profile p;
    if (poll++ % 8 == 0 && debug2_too) {
      g.states = {{"sleep", live.size()}};
      for (const auto& [id, end] : live) pprof::sample_goroutine_id(g.goroutine_ids, id);
      p.max_goroutine_id = next_id - 1;
    }
    p.total = g.count;
    p.groups.push_back(std::move(g));
    return p;
  }
};

std::vector<Event> run_profiles(TargetDetector& d, double minutes, const std::function<pprof::Profile(double)>& make) {
  std::vector<Event> all;
  for (double m = 0; m < minutes; m += kStep / 60) {
    auto events = d.observe(kT0 + m * 60, make(m));
    all.insert(all.end(), events.begin(), events.end());
  }
  return all;
}

// Pollers of jobs that finish in ~3 minutes, `per_minute(m)` of them, and, with `leak`, from minute 40 two a
// minute whose job was cancelled and who loop forever.
std::vector<Event> run_pollers(TargetDetector& d, bool leak, bool debug2,
                               const std::function<double(double)>& per_minute) {
  SleepLoops loops;
  std::exponential_distribution<double> three_minutes(1.0 / 3);
  std::uniform_real_distribution<double> u(0, 1);
  return run_profiles(d, 180, [&](double m) {
    std::poisson_distribution<int> arrivals(per_minute(m) * kStep / 60);
    for (int i = arrivals(loops.rng); i > 0; --i) loops.spawn(m + three_minutes(loops.rng));
    if (leak && m >= 40 && u(loops.rng) < 2 * kStep / 60) loops.spawn(INFINITY);
    return loops.sample(m, debug2);
  });
}

}  // namespace

TEST_CASE("a sleeping loop that never exits leaks once debug=2 shows its goroutines stay", "[detect]") {
  // Each poller wakes every few seconds, so no wait ever reaches a minute: only their IDs show who stays.
  const auto steady = [](double) { return 12.0; };  // ~36 healthy pollers at a time
  TargetDetector d{detect::Options{}};
  const auto events = run_pollers(d, true, true, steady);
  const Event* firing = first(events, Scope::stack, Transition::firing);
  REQUIRE(firing != nullptr);
  CHECK(firing->function == "main.pollStatus");
  CHECK(minute_of(*firing) > 40);
  CHECK(minute_of(*firing) < 40 + 100);

  // The same group growing because more jobs run at once (pollers that still finish): they come and go, so
  // however it grows it never even goes pending.
  TargetDetector busy{detect::Options{}};
  const auto busy_events = run_pollers(busy, false, true, [](double m) { return 12.0 + 1.2 * std::max(0.0, m - 40); });
  CHECK(first(busy_events, Scope::stack, Transition::pending) == nullptr);

  // Nor does the leak fire seen only through debug=1, which cannot tell that the goroutines stay.
  TargetDetector plain{detect::Options{}};
  CHECK(first(run_pollers(plain, true, false, steady), Scope::stack, Transition::firing) == nullptr);

  // Healthy pollers whose number swings with the load (+-40% over 20 minutes) make the shared group's
  // level turn back; once debug=2 shows that most of it stays, what comes and goes may move it that much.
  TargetDetector swinging{detect::Options{}};
  const auto swinging_events = run_pollers(swinging, true, true,
                                           [](double m) { return 12.0 * (1 + 0.4 * std::sin(m * 2 * M_PI / 20)); });
  const Event* swung = first(swinging_events, Scope::stack, Transition::firing);
  REQUIRE(swung != nullptr);
  CHECK(swung->function == "main.pollStatus");
  CHECK(minute_of(*swung) < 40 + 120);
}

TEST_CASE("a slow leak in a stack shared with goroutines that come and go fires once debug=2 shows waits that last",
          "[detect]") {
  // ~20 renewals in flight, each for under a minute, and from minute 40 one lease in ~3 minutes that is never
  // released: its goroutine waits here for good. The count scatters like its healthy part, so by counts
  // alone the growth looks like load; debug=2 (every 8th poll) shows the waits of those that stay.
  const auto run_leases = [](TargetDetector& d, bool debug2) {
    std::mt19937 rng(21);
    std::poisson_distribution<int> in_flight(20);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<double> leaked_at;
    const std::vector<pprof::Frame> select{{"runtime.selectgo", "/go/src/runtime/select.go", 335}};
    int poll = 0;
    return run_profiles(d, 240, [&](double m) {
      if (m >= 40 && u(rng) < 0.3 * kStep / 60) leaked_at.push_back(m);
      const auto healthy = static_cast<std::uint64_t>(in_flight(rng));
      pprof::StackGroup g = group("main.renew", healthy + leaked_at.size(), 50, select);
      if (debug2 && poll % 8 == 0) {
        g.states = {{"select", g.count}};
        g.wait_minutes.counts[0] = healthy;
        for (const double at : leaked_at) {
          const auto minutes = static_cast<std::uint32_t>(m - at);
          std::size_t b = 0;
          while (minutes > pprof::kWaitMinuteBounds[b]) ++b;
          ++g.wait_minutes.counts[b];
          g.wait_minutes.max_minutes = std::max(g.wait_minutes.max_minutes, minutes);
        }
      }
      ++poll;
      return profile_of({g});
    });
  };
  TargetDetector d{detect::Options{}};
  const std::vector<Event> events = run_leases(d, true);  // `first` points into it
  const Event* firing = first(events, Scope::stack, Transition::firing);
  REQUIRE(firing != nullptr);
  CHECK(firing->function == "main.renew");
  CHECK(minute_of(*firing) > 40);
  // By counts alone its goroutines come and go: no page in four hours.
  TargetDetector plain{detect::Options{}};
  CHECK(first(run_leases(plain, false), Scope::stack, Transition::firing) == nullptr);
}

TEST_CASE("exported stacks are bounded and the rest is summed", "[detect]") {
  detect::Options o;
  o.max_stack_series = 5;
  o.max_tracked_stacks = 12;
  TargetDetector d{o};
  std::vector<pprof::StackGroup> groups;
  for (std::uint32_t i = 0; i < 30; ++i) groups.push_back(group("main.f" + std::to_string(i), 1 + i, 100 + i));
  d.observe(kT0, profile_of(groups));
  CHECK(d.tracked_stacks() == 12);
  const auto top = d.top_stacks();
  REQUIRE(top.size() == 5);
  double shown = 0;
  for (const auto& s : top) shown += s.count;
  CHECK(d.other_count(top) == Approx(d.total().count - shown));

  SECTION("a bigger newcomer displaces the smallest tracked group") {
    groups.push_back(group("main.big", 1000, 500));
    d.observe(kT0 + kStep, profile_of(groups));
    CHECK(d.tracked_stacks() == 12);
    bool found = false;
    for (const auto& s : d.top_stacks()) found = found || s.function == "main.big";
    CHECK(found);
  }
}

TEST_CASE("a group absent for stale_polls profiles is dropped", "[detect]") {
  TargetDetector d{detect::Options{}};
  d.observe(kT0, profile_of({group("main.a", 3), group("main.b", 4, 20)}));
  CHECK(d.tracked_stacks() == 2);
  d.observe(kT0 + 15, profile_of({group("main.a", 3)}));
  d.observe(kT0 + 30, profile_of({group("main.a", 3)}));
  CHECK(d.tracked_stacks() == 2);  // absent twice: kept, counted as 0
  d.observe(kT0 + 45, profile_of({group("main.a", 3)}));
  CHECK(d.tracked_stacks() == 1);
}

TEST_CASE("the time to the goroutine limit follows predict_linear on the total", "[detect]") {
  detect::Options o;
  o.goroutine_limit = 1000;
  TargetDetector d{o};
  CHECK_FALSE(d.seconds_to_limit());
  for (int i = 0; i <= 40; ++i) {
    d.observe(kT0 + i * kStep, profile_of({group("main.leak", static_cast<std::uint64_t>(100 + i * kStep))}));
  }
  // 1 goroutine a second, at 700 now: 300 s to go.
  REQUIRE(d.seconds_to_limit());
  CHECK(*d.seconds_to_limit() == Approx(300).margin(0.5));

  detect::Options none;
  TargetDetector no_limit{none};
  no_limit.observe(kT0, profile_of({group("main.leak", 1)}));
  no_limit.observe(kT0 + 15, profile_of({group("main.leak", 20)}));
  CHECK_FALSE(no_limit.seconds_to_limit());
}

TEST_CASE("the same samples give the same events, and older samples are ignored", "[detect]") {
  const auto feed = [](TargetDetector& d) {
    std::mt19937 rng(9);
    std::poisson_distribution<int> load(300);
    return run(d, 0, 80, [&](double m) {
      return std::vector<pprof::StackGroup>{group("main.worker", static_cast<std::uint64_t>(load(rng)), 20),
                                            group("main.leak", static_cast<std::uint64_t>(m > 35 ? 2 * (m - 35) : 0))};
    });
  };
  TargetDetector a{detect::Options{}};
  TargetDetector b{detect::Options{}};
  const auto ea = feed(a);
  const auto eb = feed(b);
  REQUIRE_FALSE(ea.empty());
  REQUIRE(ea.size() == eb.size());
  for (std::size_t i = 0; i < ea.size(); ++i) {
    CHECK(ea[i].t == eb[i].t);
    CHECK(ea[i].state == eb[i].state);
    CHECK(ea[i].function == eb[i].function);
    CHECK(ea[i].p_value == eb[i].p_value);
  }
  CHECK(a.observe(kT0, profile_of({group("main.leak", 1)})).empty());
  CHECK(a.total().count > 1);  // the late sample changed nothing
}

TEST_CASE("method: seed alerts on the total with the seed article's rule", "[detect]") {
  detect::Options o;
  o.method = detect::Method::seed;
  TargetDetector d{o};
  // Flat at 100 for 30 minutes (a baseline of zero slopes), then 10 goroutines a second.
  const auto events = run(d, 0, 40, [](double m) {
    return std::vector<pprof::StackGroup>{
        group("main.leak", static_cast<std::uint64_t>(m < 30 ? 100 : 100 + 600 * (m - 30)))};
  });
  const Event* firing = first(events, Scope::total, Transition::firing);
  REQUIRE(firing != nullptr);
  CHECK(minute_of(*firing) >= 30);
  CHECK(minute_of(*firing) < 32);
  CHECK(first(events, Scope::stack, Transition::pending) == nullptr);  // the seed rule knows only totals
}

namespace {

pprof::Profile leak_profile_of(std::vector<pprof::StackGroup> groups) {
  pprof::Profile p = profile_of(std::move(groups));
  p.kind = pprof::ProfileKind::goroutineleak;
  return p;
}

const detect::SeriesStatus* status_of(const TargetDetector& d, std::string_view function) {
  static std::vector<detect::SeriesStatus> top;
  top = d.top_stacks();
  for (const auto& s : top) {
    if (s.function == function) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a group the runtime proves leaked fires at once with evidence runtime, in warm-up too", "[detect]") {
  TargetDetector d{detect::Options{}};
  // Minute 2: deep in warm-up, no trend at all (a flat 7), so the trend alone would never fire.
  run(d, 0, 2, [](double) {
    return std::vector<pprof::StackGroup>{group("main.worker", 40, 20), group("main.stuck", 7)};
  });
  const auto events = d.observe_leaked(kT0 + 2 * 60 + 5, leak_profile_of({group("main.stuck", 7)}));
  REQUIRE(events.size() == 1);
  CHECK(events[0].state == Transition::firing);
  CHECK(events[0].function == "main.stuck");
  CHECK(events[0].evidence == detect::Evidence::runtime);
  CHECK(d.leaked_goroutines() == std::optional<std::uint64_t>(7));
  CHECK(d.leaked_groups() == 1);
  const auto* stuck = status_of(d, "main.stuck");
  REQUIRE(stuck != nullptr);
  CHECK(stuck->leaked == 7);
  CHECK(stuck->evidence == detect::Evidence::runtime);
  CHECK(stuck->state == detect::AlertState::firing);
  const auto* worker = status_of(d, "main.worker");
  REQUIRE(worker != nullptr);
  CHECK(worker->evidence == detect::Evidence::trend);
  CHECK(worker->state == detect::AlertState::inactive);

  // Later polls keep it firing on the proof; the total does not fire on it (it has no trend).
  const auto later = run(d, 2.5, 5, [](double) {
    return std::vector<pprof::StackGroup>{group("main.worker", 40, 20), group("main.stuck", 7)};
  });
  CHECK(later.empty());
  CHECK(status_of(d, "main.stuck")->state == detect::AlertState::firing);
  CHECK(d.total().state == detect::AlertState::inactive);

  // A proof without the group resolves it (after keep_firing_for, as any alert).
  CHECK(d.observe_leaked(kT0 + 8 * 60, leak_profile_of({})).empty());
  CHECK(status_of(d, "main.stuck")->evidence == detect::Evidence::trend);
  const auto resolved = run(d, 8.25, 12, [](double) {
    return std::vector<pprof::StackGroup>{group("main.worker", 40, 20), group("main.stuck", 7)};
  });
  REQUIRE(first(resolved, Scope::stack, Transition::resolved) != nullptr);
  // keep_firing_for (10m) after the last poll the proof held for (minute 7.25).
  CHECK(minute_of(*first(resolved, Scope::stack, Transition::resolved)) == Approx(7.25 + 10));
  CHECK(d.leaked_goroutines() == std::optional<std::uint64_t>(0));
}

TEST_CASE("the runtime's proof below min_leaked, of another kind, or before a restart does not fire", "[detect]") {
  detect::Options o;
  o.min_leaked = 5;
  TargetDetector d{o};
  const auto steady = [](double) {
    return std::vector<pprof::StackGroup>{group("main.worker", 400, 20), group("main.stuck", 3)};
  };
  run(d, 0, 2, steady);
  CHECK(d.observe_leaked(kT0 + 125, leak_profile_of({group("main.stuck", 3)})).empty());
  CHECK(status_of(d, "main.stuck")->leaked == 0);
  CHECK(d.leaked_goroutines() == std::optional<std::uint64_t>(3));  // the target's figure is reported anyway

  // A goroutine profile handed in as the proof is refused.
  CHECK(d.observe_leaked(kT0 + 126, profile_of({group("main.stuck", 30)})).empty());
  CHECK(status_of(d, "main.stuck")->leaked == 0);

  // A proof at or above min_leaked fires; a restart (the total halves) resolves it and forgets the proof.
  REQUIRE(d.observe_leaked(kT0 + 127, leak_profile_of({group("main.stuck", 5)})).size() == 1);
  const auto after = run(d, 3, 1, [](double) {
    return std::vector<pprof::StackGroup>{group("main.worker", 40, 20), group("main.stuck", 5)};
  });
  REQUIRE(first(after, Scope::stack, Transition::resolved) != nullptr);
  CHECK_FALSE(d.leaked_goroutines().has_value());
  CHECK(status_of(d, "main.stuck")->state == detect::AlertState::inactive);
}

TEST_CASE("a proved group that is not tracked yet takes the place of the smallest quiet one", "[detect]") {
  detect::Options o;
  o.max_tracked_stacks = 2;
  TargetDetector d{o};
  run(d, 0, 1, [](double) {
    return std::vector<pprof::StackGroup>{group("main.big", 100, 20), group("main.small", 2, 30)};
  });
  REQUIRE(d.tracked_stacks() == 2);
  const auto events = d.observe_leaked(kT0 + 65, leak_profile_of({group("main.hidden", 4, 40)}));
  REQUIRE(events.size() == 1);
  CHECK(events[0].function == "main.hidden");
  CHECK(events[0].location == "/app/main.go:40");
  CHECK(d.tracked_stacks() == 2);
  CHECK(status_of(d, "main.small") == nullptr);
  REQUIRE(status_of(d, "main.hidden") != nullptr);
  CHECK(status_of(d, "main.hidden")->count == 4);
}
