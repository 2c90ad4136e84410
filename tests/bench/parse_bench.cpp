// Parse throughput of the three goroutine-profile parsers on large, real Go profiles.
//
//   scripts/capture-bench-dumps.sh BUILD/bench-dumps      # real dumps from tests/targets/bigstacks
//   BUILD/tests/bench/parse_bench [DIR] [--benchmark_...]  # or LEAKWATCH_BENCH_DUMPS=DIR
//   scripts/bench.sh                                       # all of it, plus the peers, as one table
//
// The dump directory is the first non-flag argument, else $LEAKWATCH_BENCH_DUMPS, else BUILD/bench-dumps.
// It reads every NAME.debug1.txt, NAME.debug2.txt and NAME.debug0.pb.gz there; capture-bench-dumps.sh
// writes goroutines100k (100,000 goroutines in ~50 groups) and stacks2k (10,000 goroutines on ~2,000
// distinct stacks). Benchmarks, per dump (bytes/s are of the file as read, gzip'd for debug0; the
// `goroutines` counter is goroutines parsed per second):
//   parse_debug{0,1,2}/NAME       the parser with default Limits: what the scrape path runs
//   classify_debug{0,1,2}/NAME    the same plus classify() + merge_by_signature() (signature.hpp)
//   gunzip/NAME                   common::gunzip of the debug0 file alone: the floor parse_debug0 is
//                                 held to (goal: parse_debug0 within 1.3x of it)
//   profile_copy_debug{0,1,2}/NAME  copying the parsed Profile: the allocations any parser into the
//                                 Profile model pays (a floor, see register_dump)
//   memchr_lines/NAME             counting the lines of a text dump with memchr: a floor for any
//                                 line-oriented parser (goal for debug1/debug2: >= 1 GB/s on one core)

#include "leakwatch/common/gzip.hpp"
#include "leakwatch/pprof/parser.hpp"
#include "leakwatch/pprof/profile.hpp"

#if __has_include("leakwatch/pprof/signature.hpp")
#include "leakwatch/pprof/signature.hpp"
#define LEAKWATCH_BENCH_HAVE_CLASSIFY 1
#endif

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace pprof = leakwatch::pprof;
namespace common = leakwatch::common;
namespace fs = std::filesystem;

struct Dump {
  std::string name;  // e.g. "goroutines100k"
  pprof::Format format = pprof::Format::debug1;
  std::string bytes;
  std::uint64_t goroutines = 0;  // Profile::total of a parse (debug2: goroutines read)
  std::size_t groups = 0;
  bool truncated = false;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string_view format_name(pprof::Format format) {
  switch (format) {
    case pprof::Format::debug0: return "debug0";
    case pprof::Format::debug1: return "debug1";
    case pprof::Format::debug2: return "debug2";
  }
  return "?";
}

common::Result<pprof::Profile> parse(const Dump& d) {
  switch (d.format) {
    case pprof::Format::debug0: return pprof::parse_debug0(d.bytes);
    case pprof::Format::debug1: return pprof::parse_debug1(d.bytes);
    case pprof::Format::debug2: return pprof::parse_debug2(d.bytes);
  }
  return common::Error{"unknown format"};
}

void set_rates(benchmark::State& state, const Dump& d) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(d.bytes.size()));
  state.counters["goroutines"] = benchmark::Counter(static_cast<double>(d.goroutines),
                                                    benchmark::Counter::kIsIterationInvariantRate);
}

void register_dump(const Dump& d) {
  const std::string format{format_name(d.format)};
  benchmark::RegisterBenchmark(("parse_" + format + "/" + d.name).c_str(), [&d](benchmark::State& state) {
    for (auto _ : state) {
      auto profile = parse(d);
      if (!profile) {
        state.SkipWithError(profile.error().message.c_str());
        return;
      }
      benchmark::DoNotOptimize(profile->groups.data());
    }
    set_rates(state, d);
  })->Unit(benchmark::kMillisecond);

#ifdef LEAKWATCH_BENCH_HAVE_CLASSIFY
  benchmark::RegisterBenchmark(("classify_" + format + "/" + d.name).c_str(), [&d](benchmark::State& state) {
    for (auto _ : state) {
      auto profile = parse(d);
      if (!profile) {
        state.SkipWithError(profile.error().message.c_str());
        return;
      }
      pprof::classify(*profile);
      auto merged = pprof::merge_by_signature(std::move(*profile));
      benchmark::DoNotOptimize(merged.groups.data());
    }
    set_rates(state, d);
  })->Unit(benchmark::kMillisecond);
#endif

  // Copying the parsed Profile (and freeing the copy) allocates exactly what any parser into this model
  // must: one heap block per frame string longer than the SSO buffer (15 bytes), per frame vector and
  // per label. A floor next to the goals, not a goal: on dumps with thousands of distinct stacks it is
  // most of the parse time.
  benchmark::RegisterBenchmark(("profile_copy_" + format + "/" + d.name).c_str(), [&d](benchmark::State& state) {
    const auto parsed = parse(d);
    if (!parsed) {
      state.SkipWithError(parsed.error().message.c_str());
      return;
    }
    for (auto _ : state) {
      pprof::Profile copy = *parsed;
      benchmark::DoNotOptimize(copy.groups.data());
    }
    set_rates(state, d);
  })->Unit(benchmark::kMillisecond);

  if (d.format == pprof::Format::debug0) {
    benchmark::RegisterBenchmark(("gunzip/" + d.name).c_str(), [&d](benchmark::State& state) {
      for (auto _ : state) {
        auto r = common::gunzip(d.bytes, pprof::Limits{}.max_decompressed_bytes);
        benchmark::DoNotOptimize(r.out.data());
      }
      set_rates(state, d);
    })->Unit(benchmark::kMillisecond);
  } else {
    benchmark::RegisterBenchmark(("memchr_lines_" + format + "/" + d.name).c_str(), [&d](benchmark::State& state) {
      for (auto _ : state) {
        std::size_t lines = 0;
        const char* p = d.bytes.data();
        const char* const end = p + d.bytes.size();
        while (const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p))) {
          ++lines;
          p = static_cast<const char*>(nl) + 1;
        }
        benchmark::DoNotOptimize(lines);
      }
      set_rates(state, d);
    })->Unit(benchmark::kMillisecond);
  }
}

fs::path dump_dir(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') return argv[i];
  }
  if (const char* env = std::getenv("LEAKWATCH_BENCH_DUMPS"); env && *env) return env;
  return LEAKWATCH_BENCH_DUMPS_DIR;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const fs::path dir = dump_dir(argc, argv);
  if (!fs::is_directory(dir)) {
    std::fprintf(stderr, "parse_bench: no dump directory %s; capture one with scripts/capture-bench-dumps.sh %s\n",
                 dir.c_str(), dir.c_str());
    return 1;
  }

  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());

  // Kept alive for the whole run: the registered lambdas hold references.
  static std::vector<Dump> dumps;
  dumps.reserve(files.size());
  for (const auto& f : files) {
    const std::string file = f.filename().string();
    Dump d;
    for (const auto& [suffix, format] :
         {std::pair{".debug0.pb.gz", pprof::Format::debug0}, std::pair{".debug1.txt", pprof::Format::debug1},
          std::pair{".debug2.txt", pprof::Format::debug2}}) {
      if (file.ends_with(suffix)) {
        d.name = file.substr(0, file.size() - std::strlen(suffix));
        d.format = format;
      }
    }
    if (d.name.empty()) continue;
    d.bytes = read_file(f);
    const auto profile = parse(d);
    if (!profile) {
      std::fprintf(stderr, "parse_bench: %s: %s\n", file.c_str(), profile.error().message.c_str());
      return 1;
    }
    d.goroutines = profile->total;
    d.groups = profile->groups.size();
    d.truncated = profile->truncated();
    // One line per dump on stderr (and in the JSON context), so a table can say what was parsed.
    std::fprintf(stderr, "dump %s bytes=%zu goroutines=%llu groups=%zu truncated=%d\n", file.c_str(), d.bytes.size(),
                 static_cast<unsigned long long>(d.goroutines), d.groups, d.truncated ? 1 : 0);
    benchmark::AddCustomContext("dump:" + file, "bytes=" + std::to_string(d.bytes.size()) +
                                                    " goroutines=" + std::to_string(d.goroutines) +
                                                    " groups=" + std::to_string(d.groups) +
                                                    " truncated=" + (d.truncated ? "1" : "0"));
    dumps.push_back(std::move(d));
  }
  if (dumps.empty()) {
    std::fprintf(stderr, "parse_bench: no *.debug{0,1,2}.* dumps in %s; run scripts/capture-bench-dumps.sh %s\n",
                 dir.c_str(), dir.c_str());
    return 1;
  }
  for (const Dump& d : dumps) register_dump(d);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
