#pragma once
// The configuration schema, with its defaults. A loaded Config is immutable and shared as
// shared_ptr<const Config>; a reload builds a new one and swaps it in only if it validated.

#include "leakwatch/common/duration.hpp"
#include "leakwatch/common/error.hpp"
#include "leakwatch/detect/options.hpp"
#include "leakwatch/pprof/parser.hpp"
#include "leakwatch/pprof/profile.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leakwatch::config {

using common::Duration;

enum class Scheme { http, https };

struct TlsConfig {
  std::string ca_file;      // PEM bundle to verify the target; empty = system default paths
  std::string cert_file;    // client certificate (PEM chain) for targets that require one; with key_file
  std::string key_file;     // its private key (PEM); with cert_file
  std::string server_name;  // SNI and verification name; empty = the target's host
  bool insecure_skip_verify = false;

  friend bool operator==(const TlsConfig&, const TlsConfig&) = default;
};

// Credentials to targets, as Prometheus' scrape configs spell them. A secret is given inline or in a file
// (at most one of the two); files are read when a poll needs them and re-read when they change, so a
// rotated token or password is used without a reload (http::RequestAuth). File names are relative to the
// config file's directory after load_file. Secret values never appear in messages.
struct BasicAuthConfig {
  std::string username;
  std::string username_file;
  std::string password;
  std::string password_file;

  friend bool operator==(const BasicAuthConfig&, const BasicAuthConfig&) = default;
};

struct AuthorizationConfig {
  std::string type = "Bearer";  // the header's scheme: `Authorization: <type> <credentials>`
  std::string credentials;
  std::string credentials_file;

  friend bool operator==(const AuthorizationConfig&, const AuthorizationConfig&) = default;
};

// One header of http_headers: every value of `values` (plain), `secrets` (secret) and `files` (each file's
// content, a secret) is sent, in that order.
struct HttpHeaderConfig {
  std::vector<std::string> values;
  std::vector<std::string> secrets;
  std::vector<std::string> files;

  friend bool operator==(const HttpHeaderConfig&, const HttpHeaderConfig&) = default;
};

struct StaticConfig {
  std::vector<std::string> targets;           // "host:port"
  std::map<std::string, std::string> labels;  // extra labels on every series of these targets

  friend bool operator==(const StaticConfig&, const StaticConfig&) = default;
};

// file_sd_configs: JSON (.json) or YAML (.yml, .yaml) files, each a list of {targets, labels} groups as in
// Prometheus' file_sd. There is no relabeling: a file's labels go onto its targets' series as they are.
struct FileSdConfig {
  // Paths; the last element may be a glob (*, ?, [...]). After load_file, relative to the config file's
  // directory.
  std::vector<std::string> files;
  // How often every file is re-read in full; changes are also noticed within seconds by a cheaper check.
  Duration refresh_interval{300'000};

  friend bool operator==(const FileSdConfig&, const FileSdConfig&) = default;
};

// In-cluster defaults of kubernetes_sd_configs (the pod's service account).
inline constexpr std::string_view kInClusterTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token";
inline constexpr std::string_view kInClusterCaFile = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

// kubernetes_sd_configs: pods from the Kubernetes API.
struct KubernetesSdConfig {
  std::string role = "pod";  // the only role
  // Empty: in-cluster, https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.
  std::string api_server;
  // After load, with api_server empty and nothing set: kInClusterTokenFile. Relative paths are relative to
  // the config file's directory.
  std::string bearer_token_file;
  // After load, with api_server empty and no ca_file set: ca_file = kInClusterCaFile.
  TlsConfig tls_config;
  std::vector<std::string> namespaces;  // empty = all namespaces

  friend bool operator==(const KubernetesSdConfig&, const KubernetesSdConfig&) = default;
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
inline constexpr std::string_view kGoroutinePath = pprof::profile_kind_info(pprof::ProfileKind::goroutine).default_path;
inline constexpr std::string_view kGoroutineLeakPath =
    pprof::profile_kind_info(pprof::ProfileKind::goroutineleak).default_path;

// The rules of a profile_path, wherever one comes from (a job, a target file, a Kubernetes annotation): an
// absolute path with no query or fragment (the job's format: owns ?debug=N) and no spaces or control
// characters.
common::Result<void> check_profile_path(std::string_view path);

// The runtime's leak proof beside a goroutine job (`goroutineleak:` in a job): Go 1.27's
// /debug/pprof/goroutineleak (Go 1.26 with GOEXPERIMENT=goroutineleakprofile) lists the goroutines a special
// GC cycle proved can never run again. Writing it forces that GC cycle, so it is polled on its own slow
// cadence, at the first goroutine poll after each `interval`, on the same connection.
enum class LeakProofPoll : unsigned char {
  auto_detect,  // "auto": poll it; a 404 means the target does not offer it (checked again next interval)
  always,       // a 404 is an error, counted and logged like any failed poll
  never,
};

struct LeakProofConfig {
  LeakProofPoll poll = LeakProofPoll::auto_detect;
  Duration interval{30 * 60'000};
  std::string path = std::string(kGoroutineLeakPath);

  friend bool operator==(const LeakProofConfig&, const LeakProofConfig&) = default;
};

// Adaptive debug=2 beside a debug1 or debug0 job (`debug2:` in a job): debug=2 is the only format with each
// goroutine's wait minutes (`[IO wait, 12 minutes]`), the evidence that goroutines in I/O, sleep or a
// syscall never leave, but the runtime stops the world while it writes it and it grows with the goroutine
// count. So it replaces the ordinary poll only now and then: every `interval`, and sooner (at most every
// `min_interval`) while a group needs that evidence; never while the last profile held more than
// `max_goroutines`, and its body is cut at `max_bytes` (the poll then falls back to the job's format).
struct Debug2Config {
  Duration interval{10 * 60'000};  // 0: never
  Duration min_interval{60'000};
  std::uint64_t max_goroutines = 10'000;
  std::uint64_t max_bytes = 16ull << 20;

  friend bool operator==(const Debug2Config&, const Debug2Config&) = default;
};

struct ScrapeConfig {
  std::string job_name;
  Scheme scheme = Scheme::http;
  // goroutine: every goroutine, leakwatch's own trend detection decides. goroutineleak (Go 1.26+ built with
  // GOEXPERIMENT=goroutineleakprofile, Go 1.27+): only the goroutines the runtime's GC proved can never wake.
  pprof::ProfileKind profile = pprof::ProfileKind::goroutine;
  std::string profile_path = std::string(kGoroutinePath);  // after load: kGoroutineLeakPath for goroutineleak
  pprof::Format format = pprof::Format::debug1;
  // profile: goroutine only (a goroutineleak job is the proof alone, without the trend).
  LeakProofConfig goroutineleak;
  // format: debug1 or debug0 jobs of profile: goroutine (after load: interval 0 for the others).
  Debug2Config debug2;
  Duration scrape_interval{0};        // after load: the global value if not set here
  Duration scrape_timeout{0};         // after load: the global value if not set here (capped at the interval)
  std::uint64_t body_size_limit = 0;  // after load: the global value if not set here
  TlsConfig tls_config;
  std::optional<BasicAuthConfig> basic_auth;  // at most one of basic_auth and authorization
  std::optional<AuthorizationConfig> authorization;
  std::map<std::string, HttpHeaderConfig> http_headers;  // by header name as written
  // A job names its targets in at least one of these (load() requires one of the keys).
  std::vector<StaticConfig> static_configs;
  std::vector<FileSdConfig> file_sd_configs;
  std::vector<KubernetesSdConfig> kubernetes_sd_configs;
  // After load: the global detection settings with this job's `detection:` keys applied over them.
  detect::Options detection;
};

struct Config {
  GlobalConfig global;
  std::vector<ScrapeConfig> scrape_configs;
};

}  // namespace leakwatch::config
