// Per-sample cost of one series' trend statistics (lib/stats), and the memory a series takes.
//
//   ninja -C BUILD stats_bench && BUILD/tests/bench/stats_bench [--benchmark_...]
//
// A series is polled every 15 s into a 1 h window: 240 samples. Goal (issue): the per-sample update of one
// series, BM_FullEvaluation240 (push + least_squares + theil_sen + mann_kendall on the window), under
// 20 us. Data shapes (the benchmark's argument): 0 = noisy linear growth of integer counts, 1 = many ties
// (five distinct values), 2 = a leak starting mid-stream after a flat hour (trend change).
// Benchmarks:
//   BM_WindowPush/S            push into a full 240-sample window + mann_kendall() (incremental)
//   BM_FullEvaluation240/S     push + least_squares() + theil_sen() + mann_kendall() on the window;
//                              the `memory_bytes` counter is one full window (the memory per series)
//   BM_LeastSquares240/S       batch least_squares() over 240 samples
//   BM_TheilSen240/S           batch theil_sen_slope() over 240 samples (28,680 pairs)
//   BM_TheilSenBruteForce240/S the definition: all 28,680 quotients + nth_element (what it replaces)
//   BM_MannKendall240/S        batch mann_kendall() over 240 samples (O(n^2), what the window avoids)

#include "leakwatch/stats/sliding_window.hpp"
#include "leakwatch/stats/trend.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace {

namespace stats = leakwatch::stats;

constexpr double kStep = 15;
constexpr double kSpan = 3600;
constexpr std::size_t kWindow = 240;

// An endless series of one shape; deterministic.
class Source {
 public:
  explicit Source(int shape) : shape_(shape) {}
  stats::Sample next() {
    const double i = static_cast<double>(index_++);
    const double t = 1.7e9 + kStep * i;
    double v = 0;
    switch (shape_) {
      case 0: v = std::round(1000 + 0.05 * kStep * i + noise_(rng_)); break;
      case 1: v = static_cast<double>(100 + rng_() % 5); break;
      default: {
        // 480 flat samples, then 240 leaking at 0.2/s, repeating (with a reset, as after a restart).
        const double phase = std::fmod(i, 720);
        v = std::round(1000 + (phase < 480 ? 0 : 0.2 * kStep * (phase - 480)) + noise_(rng_));
      }
    }
    return {t, v};
  }

 private:
  int shape_;
  std::uint64_t index_ = 0;
  std::mt19937_64 rng_{0x5eed};
  std::normal_distribution<double> noise_{0, 20};
};

std::vector<stats::Sample> batch(int shape) {
  Source source(shape);
  std::vector<stats::Sample> out;
  for (std::size_t i = 0; i < kWindow; ++i) out.push_back(source.next());
  return out;
}

stats::SlidingWindow full_window(Source& source) {
  stats::SlidingWindow w(kSpan, kWindow);
  for (std::size_t i = 0; i < 4 * kWindow; ++i) w.push(source.next());
  return w;
}

void BM_WindowPush(benchmark::State& state) {
  Source source(static_cast<int>(state.range(0)));
  auto w = full_window(source);
  for (auto _ : state) {
    w.push(source.next());
    benchmark::DoNotOptimize(w.mann_kendall());
  }
  state.counters["memory_bytes"] = static_cast<double>(w.memory_bytes());
}
BENCHMARK(BM_WindowPush)->DenseRange(0, 2);

void BM_FullEvaluation240(benchmark::State& state) {
  Source source(static_cast<int>(state.range(0)));
  auto w = full_window(source);
  std::size_t max_memory = 0;
  for (auto _ : state) {
    w.push(source.next());
    benchmark::DoNotOptimize(w.least_squares());
    benchmark::DoNotOptimize(w.theil_sen());
    benchmark::DoNotOptimize(w.mann_kendall());
    max_memory = std::max(max_memory, w.memory_bytes());
  }
  state.counters["memory_bytes"] = static_cast<double>(w.memory_bytes());
  state.counters["max_memory_bytes"] = static_cast<double>(max_memory);
}
BENCHMARK(BM_FullEvaluation240)->DenseRange(0, 2);

void BM_LeastSquares240(benchmark::State& state) {
  const auto samples = batch(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(stats::least_squares(samples));
}
BENCHMARK(BM_LeastSquares240)->Arg(0);

void BM_TheilSen240(benchmark::State& state) {
  const auto samples = batch(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(stats::theil_sen_slope(samples));
}
BENCHMARK(BM_TheilSen240)->DenseRange(0, 2);

void BM_TheilSenBruteForce240(benchmark::State& state) {
  const auto samples = batch(static_cast<int>(state.range(0)));
  std::vector<double> slopes;
  for (auto _ : state) {
    slopes.clear();
    for (std::size_t i = 0; i < samples.size(); ++i) {
      for (std::size_t j = i + 1; j < samples.size(); ++j) {
        slopes.push_back((samples[j].v - samples[i].v) / (samples[j].t - samples[i].t));
      }
    }
    const auto k = static_cast<std::ptrdiff_t>(slopes.size() / 2);
    std::nth_element(slopes.begin(), slopes.begin() + k, slopes.end());
    benchmark::DoNotOptimize(slopes[static_cast<std::size_t>(k)]);
  }
}
BENCHMARK(BM_TheilSenBruteForce240)->Arg(0);

void BM_MannKendall240(benchmark::State& state) {
  const auto samples = batch(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(stats::mann_kendall(samples));
}
BENCHMARK(BM_MannKendall240)->Arg(0);

}  // namespace

BENCHMARK_MAIN();
