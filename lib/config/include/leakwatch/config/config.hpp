#pragma once
// The configuration schema, with its defaults. A loaded Config is immutable and shared as
// shared_ptr<const Config>; a reload builds a new one and swaps it in only if it validated.

#include "leakwatch/common/duration.hpp"
#include "leakwatch/detect/options.hpp"
#include "leakwatch/pprof/parser.hpp"
#include "leakwatch/pprof/profile.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace leakwatch::config {

using common::Duration;

enum class Scheme { http, https };

struct TlsConfig {
  std::string ca_file;               // PEM bundle to verify the target; empty = system default paths
  std::string server_name;           // SNI and verification name; empty = the target's host
  bool insecure_skip_verify = false;
};

struct StaticConfig {
  std::vector<std::string> targets;          // "host:port"
  std::map<std::string, std::string> labels;  // extra labels on every series of these targets
};

struct GlobalConfig {
  Duration scrape_interval{15'000};
  Duration scrape_timeout{10'000};
  std::uint64_t body_size_limit = 64ull << 20;  // applies to the decompressed body as well
  // Parser limits for every profile (pprof::Limits): a deeper stack keeps its leaf-most frames, and a
  // profile with more groups keeps the first ones; both are marked truncated.
  std::size_t max_frames_per_stack = pprof::Limits{}.max_frames_per_stack;
  std::size_t max_stack_groups = pprof::Limits{}.max_groups;
  // The `detection:` section: defaults for every job's detection.
  detect::Options detection;
};

// Where net/http/pprof serves each profile kind; profile_path overrides it.
inline constexpr std::string_view kGoroutinePath = "/debug/pprof/goroutine";
inline constexpr std::string_view kGoroutineLeakPath = "/debug/pprof/goroutineleak";

struct ScrapeConfig {
  std::string job_name;
  Scheme scheme = Scheme::http;
  // goroutine: every goroutine, leakwatch's own trend detection decides. goroutineleak (Go 1.26+ built with
  // GOEXPERIMENT=goroutineleakprofile, Go 1.27+): only the goroutines the runtime's GC proved can never wake.
  pprof::ProfileKind profile = pprof::ProfileKind::goroutine;
  std::string profile_path = std::string(kGoroutinePath);  // after load: kGoroutineLeakPath for goroutineleak
  pprof::Format format = pprof::Format::debug1;
  Duration scrape_interval{0};   // after load: the global value if not set here
  Duration scrape_timeout{0};    // after load: the global value if not set here (capped at the interval)
  std::uint64_t body_size_limit = 0;  // after load: the global value if not set here
  TlsConfig tls_config;
  std::vector<StaticConfig> static_configs;
  // After load: the global detection settings with this job's `detection:` keys applied over them.
  detect::Options detection;
};

struct Config {
  GlobalConfig global;
  std::vector<ScrapeConfig> scrape_configs;
};

}  // namespace leakwatch::config
