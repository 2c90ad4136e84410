// Per-sample cost of detection per series, as the daemon pays it, and the memory a target's state takes.
//
//   ninja -C BUILD detect_bench && BUILD/tests/bench/detect_bench [--benchmark_...]
//
// One TargetDetector with the default options (1 h window), fed a profile every 15 s: after 240 polls
// every window is full. Each profile has N stack groups (the argument): one leaking 0.2 goroutines/s,
// the rest load-driven (Poisson counts around fixed levels), so the candidates' extra tests run too.
// A poll costs classify + merge_by_signature + one window update and evaluation per series (N stacks and
// the total). Counters:
//   per_series        time of one observe() divided by N + 1 series, in seconds (goal: under 20 us at 240
//                     samples)
//   bytes_per_series  TargetDetector::memory_bytes() / (N + 1) once the windows are full
// The profile handed to observe() is copied outside the timed region.

#include "leakwatch/detect/detector.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace leakwatch;

constexpr double kT0 = 1.7e9;
constexpr double kStep = 15;

class ProfileSource {
 public:
  explicit ProfileSource(std::size_t groups) : groups_(groups) {
    for (std::size_t g = 0; g < groups; ++g) handlers_.push_back("main.handler" + std::to_string(g));
  }

  pprof::Profile next() {
    pprof::Profile p;
    const double minute = static_cast<double>(poll_) * kStep / 60;
    for (std::size_t g = 0; g < groups_; ++g) {
      pprof::StackGroup s;
      if (g == 0) {
        s.count = 1 + static_cast<std::uint64_t>(12 * minute);  // the leak: 0.2 goroutines a second
      } else {
        std::poisson_distribution<int> load(20.0 + 5.0 * static_cast<double>(g % 7));
        s.count = static_cast<std::uint64_t>(load(rng_));
      }
      // Realistic depth: a few plumbing frames leafward, the handler, then the serving stack.
      s.frames = {{"runtime.gopark", "/usr/lib/go/src/runtime/proc.go", 363},
                  {"runtime.chanrecv", "/usr/lib/go/src/runtime/chan.go", 583},
                  {handlers_[g], "/src/app/handlers.go", static_cast<std::uint32_t>(100 + g)},
                  {"main.(*server).dispatch", "/src/app/server.go", 88},
                  {"net/http.HandlerFunc.ServeHTTP", "/usr/lib/go/src/net/http/server.go", 2109},
                  {"net/http.(*conn).serve", "/usr/lib/go/src/net/http/server.go", 1995}};
      p.total += s.count;
      p.groups.push_back(std::move(s));
    }
    ++poll_;
    return p;
  }
  double time() const { return kT0 + kStep * static_cast<double>(poll_); }

 private:
  std::size_t groups_;
  std::vector<std::string> handlers_;  // what the frames' string_views point at, for the whole run
  std::uint64_t poll_ = 0;
  std::mt19937_64 rng_{0x5eed};
};

void BM_Observe(benchmark::State& state) {
  const auto groups = static_cast<std::size_t>(state.range(0));
  detect::TargetDetector detector{detect::Options{}};
  ProfileSource source(groups);
  for (int i = 0; i < 240; ++i) {
    const double t = source.time();
    detector.observe(t, source.next());
  }
  for (auto _ : state) {
    state.PauseTiming();
    const double t = source.time();
    pprof::Profile p = source.next();
    state.ResumeTiming();
    benchmark::DoNotOptimize(detector.observe(t, std::move(p)));
  }
  const double series = static_cast<double>(groups + 1);
  // Seconds per series per poll (shown with a unit suffix, e.g. 12.5u = 12.5 us).
  state.counters["per_series"] = benchmark::Counter(series, benchmark::Counter::kIsIterationInvariantRate |
                                                                benchmark::Counter::kInvert);
  state.counters["bytes_per_series"] = static_cast<double>(detector.memory_bytes()) / series;
  state.counters["tracked"] = static_cast<double>(detector.tracked_stacks());
}
BENCHMARK(BM_Observe)->Arg(1)->Arg(20)->Arg(100)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
