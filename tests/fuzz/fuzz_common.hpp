#pragma once
// Shared by the libFuzzer targets (tests/fuzz/fuzz_debug{0,1,2}.cpp): small limits, the invariants every
// successful parse must keep, and the post-processing the scrape path runs on a parsed profile.
//
// Build and run them with scripts/fuzz.sh (a separate clang build with -fsanitize=fuzzer,address,undefined).

#include "leakwatch/pprof/parser.hpp"
#include "leakwatch/pprof/profile.hpp"

#if __has_include("leakwatch/pprof/signature.hpp")
#include "leakwatch/pprof/signature.hpp"
#define LEAKWATCH_FUZZ_HAVE_CLASSIFY 1
#endif

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace leakwatch::fuzz {

namespace pprof = leakwatch::pprof;

// Small enough that every limit is reachable from a fuzzer-sized input (libFuzzer's -max_len is 1 MiB in
// scripts/fuzz.sh); max_decompressed_bytes sits above -max_len so a raw (not gzip'd) debug=0 input never
// trips it while the same bytes gzip'd do not either: the two paths must agree.
inline pprof::Limits small_limits() {
  pprof::Limits limits;
  limits.max_frames_per_stack = 64;
  limits.max_groups = 256;
  limits.max_line_bytes = 4096;
  limits.max_decompressed_bytes = 4u << 20;
  return limits;
}

[[noreturn]] inline void invariant_failed(const char* what) {
  std::fprintf(stderr, "leakwatch fuzz: invariant violated: %s\n", what);
  std::abort();
}

#define LEAKWATCH_FUZZ_CHECK(cond)                           \
  do {                                                       \
    if (!(cond)) ::leakwatch::fuzz::invariant_failed(#cond); \
  } while (0)

// Reads every byte a frame views, so that ASan reports a view that outlived its storage.
inline std::size_t touch(const pprof::Frame& frame) {
  std::size_t sum = 0;
  for (const char c : frame.function) sum += static_cast<unsigned char>(c);
  for (const char c : frame.file) sum += static_cast<unsigned char>(c);
  return sum;
}

// What a successful parse promises whatever the bytes were: the limits hold, counts add up, and the
// frames' names live in the profile, not in the body (run() frees the body before calling this).
inline void check_profile(const pprof::Profile& profile, const pprof::Limits& limits) {
  LEAKWATCH_FUZZ_CHECK(profile.groups.size() <= limits.max_groups);
  std::size_t bytes = 0;
  for (const auto& group : profile.groups) {
    LEAKWATCH_FUZZ_CHECK(group.frames.size() <= limits.max_frames_per_stack);
    LEAKWATCH_FUZZ_CHECK(group.frames.empty() || profile.strings != nullptr);
    for (const auto& frame : group.frames) bytes += touch(frame);
    if (group.creator) bytes += touch(*group.creator);
    std::uint64_t in_states = 0;
    for (const auto& state : group.states) in_states += state.count;
    LEAKWATCH_FUZZ_CHECK(group.states.empty() || in_states == group.count);
    std::uint64_t in_histogram = 0;
    for (const auto count : group.wait_minutes.counts) in_histogram += count;
    LEAKWATCH_FUZZ_CHECK(in_histogram == 0 || in_histogram == group.count);
  }
  volatile std::size_t sink = bytes;
  (void)sink;
}

// classify() + merge_by_signature(), as the scrape path and `leakwatch analyze` run them.
inline void post_process(pprof::Profile profile) {
#ifdef LEAKWATCH_FUZZ_HAVE_CLASSIFY
  pprof::ClassifyOptions options;
  options.app_modules = {"leakwatch/targets", "example.com/x"};
  options.extra_plumbing_prefixes = {"google.golang.org/grpc."};
  options.depth = 8;
  pprof::classify(profile, options);
  std::uint64_t before = 0;
  for (const auto& group : profile.groups) {
    LEAKWATCH_FUZZ_CHECK(group.frames.empty() || group.leak_site < group.frames.size());
    LEAKWATCH_FUZZ_CHECK(!pprof::wait_class_name(group.wait_class).empty());
    LEAKWATCH_FUZZ_CHECK(pprof::signature_hex(group.signature).size() == 16);
    before += group.count;
  }
  const pprof::Profile merged = pprof::merge_by_signature(std::move(profile));
  std::uint64_t after = 0;
  for (const auto& group : merged.groups) after += group.count;
  LEAKWATCH_FUZZ_CHECK(after == before);
#else
  (void)profile;
#endif
}

// Runs one parser on a heap copy of the bytes, frees the copy, then checks and post-processes a
// success; then the dispatcher with the format the bytes look like (what `leakwatch analyze FILE` does).
template <class Parse>
void run(std::string_view bytes, Parse&& parse_one) {
  const pprof::Limits limits = small_limits();
  auto body = std::make_unique<std::string>(bytes);
  auto result = parse_one(std::string_view{*body}, limits);
  body.reset();
  if (result) {
    check_profile(*result, limits);
    post_process(std::move(*result));
  }
  if (const auto format = pprof::detect_format(bytes)) {
    if (auto result = pprof::parse(bytes, *format, limits)) {
      check_profile(*result, limits);
    }
  }
}

}  // namespace leakwatch::fuzz
