#include "leakwatch/config/load.hpp"

#include "checks.hpp"
#include "fields.hpp"
#include "leakwatch/common/duration.hpp"
#include "leakwatch/common/file.hpp"
#include "leakwatch/common/size.hpp"
#include "leakwatch/common/utf8.hpp"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <system_error>
#include <utility>

namespace leakwatch::config {
namespace {

using namespace fields;  // NOLINT: the field readers are this file's vocabulary

// A config file with 100,000 static targets is a few MiB; anything far larger is a mistake (or /dev/zero).
constexpr std::uint64_t kMaxConfigBytes = 64ull << 20;

// pprof's tables of formats and profile kinds as (name, value) pairs for enum_field.
constexpr auto kFormatNames = [] {
  std::array<std::pair<std::string_view, pprof::Format>, pprof::kFormats.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = {pprof::kFormats[i].name, pprof::kFormats[i].format};
  return out;
}();
constexpr auto kProfileNames = [] {
  std::array<std::pair<std::string_view, pprof::ProfileKind>, pprof::kProfileKinds.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = {pprof::kProfileKinds[i].name, pprof::kProfileKinds[i].kind};
  return out;
}();

constexpr std::array<std::string_view, 2> kTopKeys{"global", "scrape_configs"};
constexpr std::array<std::string_view, 6> kGlobalKeys{"scrape_interval",      "scrape_timeout",   "body_size_limit",
                                                      "max_frames_per_stack", "max_stack_groups", "detection"};
constexpr std::array<std::string_view, 18> kScrapeKeys{
    "job_name",       "scheme",          "profile",    "profile_path",   "format",          "scrape_interval",
    "scrape_timeout", "body_size_limit", "tls_config", "static_configs", "file_sd_configs", "kubernetes_sd_configs",
    "detection",      "goroutineleak",   "debug2",     "basic_auth",     "authorization",   "http_headers"};
constexpr std::array<std::string_view, 4> kBasicAuthKeys{"username", "username_file", "password", "password_file"};
constexpr std::array<std::string_view, 3> kAuthorizationKeys{"type", "credentials", "credentials_file"};
constexpr std::array<std::string_view, 3> kHttpHeaderKeys{"values", "secrets", "files"};
// Headers the daemon sets itself or that change the connection (Prometheus' list, without the ones only
// its remote write and SigV4 use): an http_headers entry may not set them. Compared case-insensitively.
constexpr std::array<std::string_view, 13> kReservedHeaders{"Authorization",
                                                            "Host",
                                                            "Content-Encoding",
                                                            "Content-Length",
                                                            "Content-Type",
                                                            "User-Agent",
                                                            "Connection",
                                                            "Keep-Alive",
                                                            "Proxy-Authenticate",
                                                            "Proxy-Authorization",
                                                            "Www-Authenticate",
                                                            "Accept-Encoding",
                                                            "X-Prometheus-Scrape-Timeout-Seconds"};
constexpr std::array<std::string_view, 4> kDebug2Keys{"interval", "min_interval", "max_goroutines", "max_bytes"};
constexpr std::array<std::string_view, 3> kLeakProofKeys{"poll", "interval", "path"};
constexpr std::array<std::pair<std::string_view, LeakProofPoll>, 3> kLeakProofPolls{
    {{"auto", LeakProofPoll::auto_detect}, {"always", LeakProofPoll::always}, {"never", LeakProofPoll::never}}};
constexpr std::array<std::string_view, 30> kDetectionKeys{"method",
                                                          "window",
                                                          "max_samples",
                                                          "min_duration",
                                                          "min_samples",
                                                          "p_value",
                                                          "min_increase",
                                                          "saturation_ratio",
                                                          "pace_ratio",
                                                          "pace_min_arrivals",
                                                          "max_dispersion",
                                                          "explained_ratio",
                                                          "min_leaked",
                                                          "survival_ratio",
                                                          "warmup",
                                                          "restart_drop",
                                                          "restart_gap_drop",
                                                          "recurrence_instances",
                                                          "for",
                                                          "keep_firing_for",
                                                          "max_stack_series",
                                                          "max_tracked_stacks",
                                                          "stale_polls",
                                                          "app_modules",
                                                          "plumbing_prefixes",
                                                          "goroutine_limit",
                                                          "seed_points",
                                                          "seed_factor",
                                                          "seed_consecutive",
                                                          "seed_absolute_cap"};
constexpr std::array<std::string_view, 5> kTlsKeys{"ca_file", "cert_file", "key_file", "server_name",
                                                   "insecure_skip_verify"};
constexpr std::array<std::string_view, 2> kStaticKeys{"targets", "labels"};
constexpr std::array<std::string_view, 2> kFileSdKeys{"files", "refresh_interval"};
constexpr std::array<std::string_view, 5> kKubernetesSdKeys{"role", "api_server", "bearer_token_file", "tls_config",
                                                            "namespaces"};
constexpr std::array<std::string_view, 1> kNamespacesKeys{"names"};

// Upper bounds for the profile limits: beyond them a limit no longer protects anything.
constexpr std::uint64_t kMaxFramesLimit = 100'000;
constexpr std::uint64_t kMaxGroupsLimit = 10'000'000;

// Prometheus' default timeout; like Prometheus, a global interval shorter than it caps it.
constexpr Duration kDefaultTimeout = GlobalConfig{}.scrape_timeout;

// The global values jobs inherit; nullopt when the value was invalid (already reported), so checks that
// depend on it are skipped rather than piling follow-up errors onto one mistake.
struct Timing {
  std::optional<Duration> interval;
  std::optional<Duration> timeout;
  std::optional<std::uint64_t> body_size_limit;
};

class Decoder : public FieldReader {
 public:
  using FieldReader::FieldReader;

  Config decode(const YAML::Node& root) {
    Config config;
    if (root.IsNull()) return config;  // an empty file (or only comments) is an empty, valid config
    if (!root.IsMap()) {
      error(position_of(root),
            "the top level must be a mapping with global: and scrape_configs:, got " + describe(root));
      return config;
    }
    const std::vector<Entry> es = known(entries(root, ""), kTopKeys, "");
    Timing global{config.global.scrape_interval, config.global.scrape_timeout, config.global.body_size_limit};
    // global first, wherever it appears: jobs inherit from it.
    for (const Entry& e : es) {
      if (e.name == "global") global = decode_global(e, config.global);
    }
    global_detection_ = &config.global.detection;
    for (const Entry& e : es) {
      if (e.name == "scrape_configs") decode_scrape_configs(e, global, config.scrape_configs);
    }
    return config;
  }

 private:
  // A `detection:` section, applied over `d` (the defaults, or for a job the global section's values).
  void decode_detection(const Entry& section, const std::string& outer_prefix, detect::Options& d) {
    const std::string prefix = outer_prefix + "detection: ";
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping", outer_prefix)) return;
    const std::vector<Entry> es = known(entries(section.value, prefix), kDetectionKeys, prefix);
    const auto set_count = [&](const Entry& e, std::uint64_t max, std::size_t& out) {
      if (const Read<std::uint64_t> r = count_field(e, max, prefix); r.value) out = static_cast<std::size_t>(*r.value);
    };
    const auto set_number = [&](const Entry& e, double min, double max, double& out) {
      if (const Read<double> r = number_field(e, min, max, prefix); r.value) out = *r.value;
    };
    const auto set_duration = [&](const Entry& e, Duration& out) {
      if (const Read<Duration> r = duration_field(e, prefix); r.value) out = *r.value;
    };
    const auto set_duration_or_zero = [&](const Entry& e, Duration& out) {
      if (const Read<Duration> r = duration_or_zero_field(e, prefix); r.value) out = *r.value;
    };
    for (const Entry& e : es) {
      if (e.name == "method") {
        static constexpr std::array<std::pair<std::string_view, detect::Method>, 2> kMethods{
            {{"trend", detect::Method::trend}, {"seed", detect::Method::seed}}};
        if (const Read<detect::Method> r = enum_field(e, kMethods, prefix); r.value) d.method = *r.value;
      } else if (e.name == "window") {
        set_duration(e, d.window);
      } else if (e.name == "max_samples") {
        set_count(e, 100'000, d.max_samples);
      } else if (e.name == "min_duration") {
        set_duration(e, d.min_duration);
      } else if (e.name == "min_samples") {
        set_count(e, 100'000, d.min_samples);
      } else if (e.name == "p_value") {
        set_number(e, 1e-12, 1, d.p_value);
      } else if (e.name == "min_increase") {
        set_number(e, 0, 1e9, d.min_increase);
      } else if (e.name == "saturation_ratio") {
        set_number(e, 0, 1, d.saturation_ratio);
      } else if (e.name == "survival_ratio") {
        set_number(e, 0, 1, d.survival_ratio);
      } else if (e.name == "pace_ratio") {
        set_number(e, 0, 1, d.pace_ratio);
      } else if (e.name == "pace_min_arrivals") {
        set_number(e, 0, 1e9, d.pace_min_arrivals);
      } else if (e.name == "max_dispersion") {
        set_number(e, 0, 1e6, d.max_dispersion);
      } else if (e.name == "explained_ratio") {
        set_number(e, 0, 1, d.explained_ratio);
      } else if (e.name == "warmup") {
        set_duration_or_zero(e, d.warmup);
      } else if (e.name == "restart_drop") {
        set_number(e, 0, 1, d.restart_drop);
      } else if (e.name == "restart_gap_drop") {
        set_number(e, 0, 1, d.restart_gap_drop);
      } else if (e.name == "recurrence_instances") {
        set_count(e, 1'000, d.recurrence_instances);
      } else if (e.name == "for") {
        set_duration_or_zero(e, d.for_duration);
      } else if (e.name == "keep_firing_for") {
        set_duration_or_zero(e, d.keep_firing_for);
      } else if (e.name == "max_stack_series") {
        set_count(e, 1'000, d.max_stack_series);
      } else if (e.name == "max_tracked_stacks") {
        set_count(e, 100'000, d.max_tracked_stacks);
      } else if (e.name == "stale_polls") {
        set_count(e, 10'000, d.stale_polls);
      } else if (e.name == "min_leaked") {
        if (const Read<std::uint64_t> r = count_field(e, 1'000'000'000ull, prefix); r.value) d.min_leaked = *r.value;
      } else if (e.name == "app_modules") {
        if (auto r = string_list_field(e, prefix); r.value) d.app_modules = std::move(*r.value);
      } else if (e.name == "plumbing_prefixes") {
        if (auto r = string_list_field(e, prefix); r.value) d.plumbing_prefixes = std::move(*r.value);
      } else if (e.name == "goroutine_limit") {
        if (const Read<std::uint64_t> r = count_field(e, 1'000'000'000'000ull, prefix); r.value) {
          d.goroutine_limit = *r.value;
        }
      } else if (e.name == "seed_points") {
        set_count(e, 100'000, d.seed_points);
      } else if (e.name == "seed_factor") {
        set_number(e, 0, 1e6, d.seed_factor);
      } else if (e.name == "seed_consecutive") {
        set_count(e, 100'000, d.seed_consecutive);
      } else if (e.name == "seed_absolute_cap") {
        set_number(e, 0, 1e9, d.seed_absolute_cap);
      }
    }
    if (d.min_samples < 3) {
      error(position_of(section.key), prefix + "min_samples must be at least 3");
      d.min_samples = 3;
    }
  }

  bool check_min_duration(const Entry& section, const std::string& prefix, const detect::Options& d) {
    if (d.min_duration <= d.window) return true;
    error(position_of(section.key), prefix + "detection: min_duration (" + common::format_duration(d.min_duration) +
                                        ") must not be greater than window (" + common::format_duration(d.window) +
                                        ")");
    return false;
  }

  // A window that cannot hold min_samples polls, or shorter than min_duration, would never alert: say so.
  void check_window(const Entry* detection_entry, const YAML::Node& item, const std::string& prefix,
                    const ScrapeConfig& job) {
    const detect::Options& d = job.detection;
    const Position where = detection_entry != nullptr ? position_of(detection_entry->key) : position_of(item);
    // Without a detection section of its own the job has the global values, checked there already.
    if (detection_entry != nullptr && !check_min_duration(*detection_entry, prefix, d)) return;
    if (d.min_duration > d.window) return;
    if (job.scrape_interval.count() <= 0) return;  // an invalid interval was reported already
    const auto polls = static_cast<std::size_t>(d.window / job.scrape_interval);
    if (polls < d.min_samples || d.max_samples < d.min_samples) {
      error(where, prefix + "detection: window (" + common::format_duration(d.window) + ") holds " +
                       std::to_string(std::min(polls, d.max_samples)) + " polls at scrape_interval " +
                       common::format_duration(job.scrape_interval) + " (max_samples " + std::to_string(d.max_samples) +
                       "), fewer than min_samples (" + std::to_string(d.min_samples) + "): nothing could ever alert");
    }
  }

  // Reports a timeout longer than the interval at the timeout's value; Prometheus allows them to be equal.
  void check_timeout(const Entry& timeout_entry, Duration timeout, Duration interval, bool interval_inherited,
                     const std::string& prefix) {
    if (timeout <= interval) return;
    error(value_position(timeout_entry), prefix + "scrape_timeout (" + common::format_duration(timeout) +
                                             ") must not be greater than scrape_interval (" +
                                             common::format_duration(interval) +
                                             (interval_inherited ? ", from global" : "") + ")");
  }

  Timing decode_global(const Entry& section, GlobalConfig& g) {
    const std::string prefix = "global: ";
    Timing t{g.scrape_interval, g.scrape_timeout, g.body_size_limit};
    if (section.value.IsNull()) return t;
    if (!expect(section, YAML::NodeType::Map, "a mapping", "")) return {};
    const std::vector<Entry> es = known(entries(section.value, prefix), kGlobalKeys, prefix);
    const Entry* timeout_entry = nullptr;
    for (const Entry& e : es) {
      if (e.name == "scrape_interval") {
        const Read<Duration> r = duration_field(e, prefix);
        if (r.value) g.scrape_interval = *r.value;
        if (r.bad) t.interval.reset();
      } else if (e.name == "scrape_timeout") {
        timeout_entry = &e;  // checked below, against an interval that may come later in the mapping
      } else if (e.name == "body_size_limit") {
        const Read<std::uint64_t> r = size_field(e, prefix);
        if (r.value) g.body_size_limit = *r.value;
        if (r.bad) t.body_size_limit.reset();
      } else if (e.name == "max_frames_per_stack") {
        if (const Read<std::uint64_t> r = count_field(e, kMaxFramesLimit, prefix); r.value) {
          g.max_frames_per_stack = static_cast<std::size_t>(*r.value);
        }
      } else if (e.name == "max_stack_groups") {
        if (const Read<std::uint64_t> r = count_field(e, kMaxGroupsLimit, prefix); r.value) {
          g.max_stack_groups = static_cast<std::size_t>(*r.value);
        }
      } else if (e.name == "detection") {
        decode_detection(e, prefix, g.detection);
        check_min_duration(e, prefix, g.detection);
      }
    }
    if (t.interval) t.interval = g.scrape_interval;
    if (t.body_size_limit) t.body_size_limit = g.body_size_limit;

    Read<Duration> timeout;
    if (timeout_entry != nullptr) timeout = duration_field(*timeout_entry, prefix);
    if (timeout.value) {
      g.scrape_timeout = *timeout.value;
      if (t.interval) check_timeout(*timeout_entry, g.scrape_timeout, g.scrape_interval, false, prefix);
    } else if (t.interval) {
      // Unset: the default, capped at a shorter interval, as Prometheus does.
      g.scrape_timeout = std::min(kDefaultTimeout, g.scrape_interval);
    }
    t.timeout = timeout.bad ? std::nullopt : std::optional(g.scrape_timeout);
    return t;
  }

  void decode_scrape_configs(const Entry& section, const Timing& global, std::vector<ScrapeConfig>& out) {
    if (section.value.IsNull()) return;  // no jobs: the daemon polls nothing
    if (!expect(section, YAML::NodeType::Sequence, "a sequence of jobs", "")) return;
    std::map<std::string, Position, std::less<>> job_names;
    std::size_t index = 0;
    for (auto it = section.value.begin(); it != section.value.end(); ++it, ++index) {
      std::optional<ScrapeConfig> job = decode_job(*it, index, global, job_names);
      if (job) out.push_back(std::move(*job));
    }
  }

  std::optional<ScrapeConfig> decode_job(const YAML::Node& item, std::size_t index, const Timing& global,
                                         std::map<std::string, Position, std::less<>>& job_names) {
    const std::string index_prefix = "scrape_configs[" + std::to_string(index) + "]: ";
    if (!item.IsMap()) {
      error(position_of(item),
            index_prefix + "expected a mapping with job_name and static_configs, got " + describe(item));
      return std::nullopt;
    }
    // Messages name the job once its name is known to be usable; before that, its index.
    std::string prefix = index_prefix;
    for (auto it = item.begin(); it != item.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == "job_name" && it->second.IsScalar() &&
          check_job_name(it->second.Scalar())) {
        prefix = "job " + quote(it->second.Scalar()) + ": ";
        break;
      }
    }

    ScrapeConfig job;
    if (global_detection_ != nullptr) job.detection = *global_detection_;
    bool job_name_seen = false;
    const Entry* detection_entry = nullptr;
    const Entry* interval_entry = nullptr;
    const Entry* timeout_entry = nullptr;
    const Entry* profile_entry = nullptr;
    const Entry* format_entry = nullptr;
    const Entry* leak_proof_entry = nullptr;
    const Entry* basic_auth_entry = nullptr;
    const Entry* authorization_entry = nullptr;
    bool profile_path_set = false;
    bool targets_named = false;
    std::vector<Entry> all = entries(item, prefix);
    const std::size_t written = all.size();
    const std::vector<Entry> es = known(std::move(all), kScrapeKeys, prefix);
    const bool had_unknown_key = es.size() != written;
    for (const Entry& e : es) {
      if (e.name == "job_name") {
        job_name_seen = true;
        decode_job_name(e, index_prefix, job, job_names);
      } else if (e.name == "scheme") {
        static constexpr std::array<std::pair<std::string_view, Scheme>, 2> kSchemes{
            {{"http", Scheme::http}, {"https", Scheme::https}}};
        if (const Read<Scheme> r = enum_field(e, kSchemes, prefix); r.value) job.scheme = *r.value;
      } else if (e.name == "profile") {
        profile_entry = &e;
        if (const Read<pprof::ProfileKind> r = enum_field(e, kProfileNames, prefix); r.value) job.profile = *r.value;
      } else if (e.name == "profile_path") {
        profile_path_set = true;
        const Read<std::string> r = string_field(e, prefix);
        if (r.value) {
          if (const common::Result<void> ok = check_profile_path(*r.value); !ok) {
            error(value_position(e), prefix + ok.error().message);
          } else {
            job.profile_path = *r.value;
          }
        }
      } else if (e.name == "format") {
        format_entry = &e;
        if (const Read<pprof::Format> r = enum_field(e, kFormatNames, prefix); r.value) job.format = *r.value;
      } else if (e.name == "scrape_interval") {
        interval_entry = &e;
      } else if (e.name == "scrape_timeout") {
        timeout_entry = &e;
      } else if (e.name == "body_size_limit") {
        const Read<std::uint64_t> r = size_field(e, prefix);
        if (r.value) job.body_size_limit = *r.value;
      } else if (e.name == "tls_config") {
        decode_tls(e, prefix, job.tls_config);
      } else if (e.name == "basic_auth") {
        basic_auth_entry = &e;
        decode_basic_auth(e, prefix, job.basic_auth);
      } else if (e.name == "authorization") {
        authorization_entry = &e;
        decode_authorization(e, prefix, job.authorization);
      } else if (e.name == "http_headers") {
        decode_http_headers(e, prefix, job.http_headers);
      } else if (e.name == "static_configs") {
        targets_named = true;
        decode_static_configs(e, prefix, job.static_configs);
      } else if (e.name == "file_sd_configs") {
        targets_named = true;
        decode_file_sd_configs(e, prefix, job.file_sd_configs);
      } else if (e.name == "kubernetes_sd_configs") {
        targets_named = true;
        decode_kubernetes_sd_configs(e, prefix, job.kubernetes_sd_configs);
      } else if (e.name == "detection") {
        detection_entry = &e;
        decode_detection(e, prefix, job.detection);
      } else if (e.name == "goroutineleak") {
        leak_proof_entry = &e;
        decode_leak_proof(e, prefix, job.goroutineleak);
      } else if (e.name == "debug2") {
        decode_debug2(e, prefix, job.debug2);
      }
    }
    if (!job_name_seen) error(position_of(item), index_prefix + "job_name is required");
    if (basic_auth_entry != nullptr && authorization_entry != nullptr) {
      const Entry& later = basic_auth_entry->key.Mark().pos > authorization_entry->key.Mark().pos
                               ? *basic_auth_entry
                               : *authorization_entry;
      error(position_of(later.key), prefix + "at most one of basic_auth & authorization must be configured");
    }
    // A job without any source of targets polls nothing, which is almost certainly a mistake; an explicit
    // `static_configs: []` says it is not.
    if (!targets_named && !had_unknown_key) {  // after a misspelt key, this would repeat the same mistake
      error(position_of(item), prefix + "no targets: set static_configs, file_sd_configs or kubernetes_sd_configs");
    }
    if (job.profile == pprof::ProfileKind::goroutineleak) {
      // The job already polls the proof on every interval; a second, slower poll of it would add nothing.
      if (leak_proof_entry != nullptr) {
        error(position_of(leak_proof_entry->key),
              prefix +
                  "goroutineleak: applies to profile: goroutine jobs (this job polls the goroutineleak "
                  "profile itself)");
      }
      job.goroutineleak.poll = LeakProofPoll::never;
      if (!profile_path_set) job.profile_path = std::string(kGoroutineLeakPath);
      // goroutineleak?debug=2 is a dump of every goroutine with the leaked ones only marked: its count would
      // be the process's, not the leak's. debug=0 and debug=1 hold just the leaked goroutines.
      if (job.format == pprof::Format::debug2) {
        error(value_position(format_entry != nullptr ? *format_entry : *profile_entry),
              prefix +
                  "format: debug2 cannot be used with profile: goroutineleak (its debug=2 output lists every "
                  "goroutine, not only the leaked ones); use debug1 or debug0");
      }
    }
    // Only a debug1 or debug0 goroutine job has anything to add debug=2 polls to.
    if (job.profile != pprof::ProfileKind::goroutine || job.format == pprof::Format::debug2) {
      job.debug2.interval = Duration{0};
    }
    if (job.body_size_limit == 0 && global.body_size_limit) job.body_size_limit = *global.body_size_limit;
    decode_job_timing(interval_entry, timeout_entry, global, prefix, job);
    check_window(detection_entry, item, prefix, job);
    return job;
  }

  void decode_job_name(const Entry& e, const std::string& index_prefix, ScrapeConfig& job,
                       std::map<std::string, Position, std::less<>>& job_names) {
    const Read<std::string> r = string_field(e, index_prefix);
    if (r.bad) return;
    const std::string name = r.value.value_or("");
    if (const common::Result<void> ok = check_job_name(name); !ok) {
      error(value_position(e), index_prefix + ok.error().message);
      return;
    }
    job.job_name = name;
    // The job name is the `service` label: two jobs with one name would write the same series.
    const auto [first, inserted] = job_names.emplace(name, value_position(e));
    if (!inserted) {
      error(value_position(e),
            index_prefix + "duplicate job_name " + quote(name) + "; first used at " + at(first->second));
    }
  }

  // A job inherits what it does not set. If it sets only the interval, the inherited timeout is capped at
  // that interval (as in Prometheus); a timeout it sets itself must fit in its interval.
  void decode_job_timing(const Entry* interval_entry, const Entry* timeout_entry, const Timing& global,
                         const std::string& prefix, ScrapeConfig& job) {
    std::optional<Duration> interval = global.interval;
    bool interval_inherited = true;
    if (interval_entry != nullptr) {
      const Read<Duration> r = duration_field(*interval_entry, prefix);
      if (r.bad) interval.reset();
      if (r.value) {
        interval = r.value;
        interval_inherited = false;
      }
    }
    if (interval) job.scrape_interval = *interval;

    Read<Duration> timeout;
    if (timeout_entry != nullptr) timeout = duration_field(*timeout_entry, prefix);
    if (timeout.value) {
      job.scrape_timeout = *timeout.value;
      if (interval) check_timeout(*timeout_entry, *timeout.value, *interval, interval_inherited, prefix);
    } else if (!timeout.bad && interval && global.timeout) {
      job.scrape_timeout = std::min(*global.timeout, *interval);
    }
  }

  void decode_debug2(const Entry& section, const std::string& job_prefix, Debug2Config& d) {
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping", job_prefix)) return;
    const std::string prefix = job_prefix + "debug2: ";
    for (const Entry& e : known(entries(section.value, prefix), kDebug2Keys, prefix)) {
      if (e.name == "interval") {
        if (const Read<Duration> r = duration_or_zero_field(e, prefix); r.value) d.interval = *r.value;
      } else if (e.name == "min_interval") {
        if (const Read<Duration> r = duration_field(e, prefix); r.value) d.min_interval = *r.value;
      } else if (e.name == "max_goroutines") {
        if (const Read<std::uint64_t> r = count_field(e, 100'000'000, prefix); r.value) d.max_goroutines = *r.value;
      } else if (e.name == "max_bytes") {
        if (const Read<std::uint64_t> r = size_field(e, prefix); r.value) d.max_bytes = *r.value;
      }
    }
  }

  void decode_leak_proof(const Entry& section, const std::string& job_prefix, LeakProofConfig& proof) {
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping", job_prefix)) return;
    const std::string prefix = job_prefix + "goroutineleak: ";
    for (const Entry& e : known(entries(section.value, prefix), kLeakProofKeys, prefix)) {
      if (e.name == "poll") {
        if (const Read<LeakProofPoll> r = enum_field(e, kLeakProofPolls, prefix); r.value) proof.poll = *r.value;
      } else if (e.name == "interval") {
        if (const Read<Duration> r = duration_field(e, prefix); r.value) proof.interval = *r.value;
      } else if (e.name == "path") {
        if (const Read<std::string> r = string_field(e, prefix); r.value) {
          if (const common::Result<void> ok = check_profile_path(*r.value); !ok) {
            error(value_position(e), prefix + ok.error().message);  // it names the rule as profile_path's
          } else {
            proof.path = *r.value;
          }
        }
      }
    }
  }

  // Two keys of which at most one may be set (a secret inline or in a file): reported at the second.
  void exclusive(const Entry* a, const Entry* b, const std::string& prefix, std::string_view what) {
    if (a == nullptr || b == nullptr) return;
    const Entry& later = a->key.Mark().pos > b->key.Mark().pos ? *a : *b;
    error(position_of(later.key), prefix + "at most one of " + std::string(what) + " must be configured");
  }

  void decode_basic_auth(const Entry& section, const std::string& job_prefix, std::optional<BasicAuthConfig>& out) {
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping", job_prefix)) return;
    const std::string prefix = job_prefix + "basic_auth: ";
    BasicAuthConfig b;
    const Entry *user = nullptr, *user_file = nullptr, *pass = nullptr, *pass_file = nullptr;
    const std::vector<Entry> es = known(entries(section.value, prefix), kBasicAuthKeys, prefix);
    for (const Entry& e : es) {
      const Read<std::string> r = string_field(e, prefix);
      if (!r.value) continue;
      if (e.name == "username") {
        user = &e;
        b.username = *r.value;
      } else if (e.name == "username_file") {
        user_file = &e;
        b.username_file = *r.value;
      } else if (e.name == "password") {
        pass = &e;
        b.password = *r.value;
      } else if (e.name == "password_file") {
        pass_file = &e;
        b.password_file = *r.value;
      }
    }
    exclusive(user, user_file, prefix, "basic_auth username & username_file");
    exclusive(pass, pass_file, prefix, "basic_auth password & password_file");
    out = std::move(b);
  }

  void decode_authorization(const Entry& section, const std::string& job_prefix,
                            std::optional<AuthorizationConfig>& out) {
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping", job_prefix)) return;
    const std::string prefix = job_prefix + "authorization: ";
    AuthorizationConfig a;
    const Entry *creds = nullptr, *creds_file = nullptr;
    // Kept past the loop: creds and creds_file point into it.
    const std::vector<Entry> es = known(entries(section.value, prefix), kAuthorizationKeys, prefix);
    for (const Entry& e : es) {
      const Read<std::string> r = string_field(e, prefix);
      if (!r.value) continue;
      if (e.name == "type") {
        std::string type = trim(*r.value);
        if (type.empty()) type = "Bearer";
        if (iequals(type, "basic")) {
          error(value_position(e),
                prefix + "authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
        } else if (!is_token(type)) {
          error(value_position(e), prefix + "type: expected one word (an HTTP authentication scheme such as Bearer)");
        }
        a.type = std::move(type);
      } else if (e.name == "credentials") {
        creds = &e;
        a.credentials = *r.value;
      } else if (e.name == "credentials_file") {
        creds_file = &e;
        a.credentials_file = *r.value;
      }
    }
    exclusive(creds, creds_file, prefix, "authorization credentials & credentials_file");
    out = std::move(a);
  }

  void decode_http_headers(const Entry& section, const std::string& job_prefix,
                           std::map<std::string, HttpHeaderConfig>& out) {
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping of header names to {values, secrets, files}", job_prefix)) {
      return;
    }
    const std::string prefix = job_prefix + "http_headers: ";
    std::set<std::string> seen;  // header names are case-insensitive: X-A and x-a are one header
    for (const Entry& h : entries(section.value, prefix)) {
      const std::string at_header = prefix + h.name + ": ";
      if (!is_token(h.name)) {
        error(position_of(h.key), prefix + quote(h.name) + " is not a valid header name");
        continue;
      }
      const bool reserved = std::any_of(kReservedHeaders.begin(), kReservedHeaders.end(),
                                        [&](std::string_view r) { return iequals(r, h.name); });
      if (reserved) {
        error(position_of(h.key), prefix + "setting header " + quote(h.name) + " is not allowed");
        continue;
      }
      if (!seen.insert(lower(h.name)).second) {
        error(position_of(h.key), prefix + "header " + quote(h.name) + " is given twice (names are case-insensitive)");
        continue;
      }
      if (h.value.IsNull()) continue;
      if (!expect(h, YAML::NodeType::Map, "a mapping with values, secrets or files", prefix)) continue;
      HttpHeaderConfig c;
      for (const Entry& e : known(entries(h.value, at_header), kHttpHeaderKeys, at_header)) {
        const Read<std::vector<std::string>> r = string_list_field(e, at_header);
        if (!r.value) continue;
        if (e.name != "files") {
          // A line break would end the header and start another: no value may hold one (never echoed: it may
          // be a secret).
          for (const std::string& v : *r.value) {
            if (v.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
              error(value_position(e), at_header + e.name + ": a value holds a line break or NUL");
            }
          }
        }
        (e.name == "values" ? c.values : e.name == "secrets" ? c.secrets : c.files) = *r.value;
      }
      out[h.name] = std::move(c);
    }
  }

  void decode_tls(const Entry& section, const std::string& job_prefix, TlsConfig& tls) {
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping", job_prefix)) return;
    const std::string prefix = job_prefix + "tls_config: ";
    const Entry *cert = nullptr, *key = nullptr;
    // Kept past the loop: cert and key point into it.
    const std::vector<Entry> es = known(entries(section.value, prefix), kTlsKeys, prefix);
    for (const Entry& e : es) {
      if (e.name == "ca_file") {
        if (const Read<std::string> r = string_field(e, prefix); r.value) tls.ca_file = *r.value;
      } else if (e.name == "cert_file") {
        if (const Read<std::string> r = string_field(e, prefix); r.value && !r.value->empty()) {
          cert = &e;
          tls.cert_file = *r.value;
        }
      } else if (e.name == "key_file") {
        if (const Read<std::string> r = string_field(e, prefix); r.value && !r.value->empty()) {
          key = &e;
          tls.key_file = *r.value;
        }
      } else if (e.name == "server_name") {
        if (const Read<std::string> r = string_field(e, prefix); r.value) tls.server_name = *r.value;
      } else if (e.name == "insecure_skip_verify") {
        if (const Read<bool> r = bool_field(e, prefix); r.value) tls.insecure_skip_verify = *r.value;
      }
    }
    // A client certificate is a pair: one half alone cannot be presented.
    if (cert != nullptr && key == nullptr) error(position_of(cert->key), prefix + "cert_file needs key_file");
    if (key != nullptr && cert == nullptr) error(position_of(key->key), prefix + "key_file needs cert_file");
  }

  void decode_static_configs(const Entry& section, const std::string& job_prefix, std::vector<StaticConfig>& out) {
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Sequence, "a sequence of {targets, labels}", job_prefix)) return;
    // A target listed twice in one job would be polled twice and export the same series twice.
    std::map<HostPort, Position> seen;
    std::size_t index = 0;
    for (auto it = section.value.begin(); it != section.value.end(); ++it, ++index) {
      decode_group(*it, job_prefix + "static_configs[" + std::to_string(index) + "]: ", seen, out);
    }
  }

  // One {targets, labels} group of static_configs or of a file_sd file. `seen` spans the job or the file.
  void decode_group(const YAML::Node& item, const std::string& prefix, std::map<HostPort, Position>& seen,
                    std::vector<StaticConfig>& out) {
    if (!item.IsMap()) {
      error(position_of(item), prefix + "expected a mapping with targets and labels, got " + describe(item));
      return;
    }
    StaticConfig sc;
    for (const Entry& e : known(entries(item, prefix), kStaticKeys, prefix)) {
      if (e.name == "targets") {
        decode_targets(e, prefix, seen, sc.targets);
      } else if (e.name == "labels") {
        decode_labels(e, prefix, sc.labels);
      }
    }
    out.push_back(std::move(sc));
  }

  void decode_file_sd_configs(const Entry& section, const std::string& job_prefix, std::vector<FileSdConfig>& out) {
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Sequence, "a sequence of {files, refresh_interval}", job_prefix)) return;
    std::size_t index = 0;
    for (auto it = section.value.begin(); it != section.value.end(); ++it, ++index) {
      const std::string prefix = job_prefix + "file_sd_configs[" + std::to_string(index) + "]: ";
      const YAML::Node item = *it;
      if (!item.IsMap()) {
        error(position_of(item), prefix + "expected a mapping with files and refresh_interval, got " + describe(item));
        continue;
      }
      FileSdConfig sd;
      std::vector<Entry> all = entries(item, prefix);
      const std::size_t written = all.size();
      const std::vector<Entry> es = known(std::move(all), kFileSdKeys, prefix);
      // After a misspelt key (`file:`), "files is required" would only repeat the same mistake.
      bool files_bad = es.size() != written;
      for (const Entry& e : es) {
        if (e.name == "files") {
          Read<std::vector<std::string>> r = string_list_field(e, prefix);
          files_bad = files_bad || r.bad;
          if (!r.value) continue;
          std::size_t i = 0;
          for (auto f = e.value.begin(); f != e.value.end(); ++f, ++i) {
            if (const common::Result<void> ok = check_sd_file_pattern((*r.value)[i]); !ok) {
              error(position_of(*f), prefix + "files: " + ok.error().message);
              files_bad = true;
            }
          }
          if (!files_bad) sd.files = std::move(*r.value);
        } else if (e.name == "refresh_interval") {
          if (const Read<Duration> r = duration_field(e, prefix); r.value) sd.refresh_interval = *r.value;
        }
      }
      if (sd.files.empty() && !files_bad) error(position_of(item), prefix + "files is required (a list of paths)");
      out.push_back(std::move(sd));
    }
  }

  void decode_kubernetes_sd_configs(const Entry& section, const std::string& job_prefix,
                                    std::vector<KubernetesSdConfig>& out) {
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Sequence, "a sequence of {role, api_server, ...}", job_prefix)) return;
    std::size_t index = 0;
    for (auto it = section.value.begin(); it != section.value.end(); ++it, ++index) {
      const std::string prefix = job_prefix + "kubernetes_sd_configs[" + std::to_string(index) + "]: ";
      const YAML::Node item = *it;
      if (!item.IsMap()) {
        error(position_of(item), prefix + "expected a mapping with role, api_server, ..., got " + describe(item));
        continue;
      }
      KubernetesSdConfig sd;
      bool ca_set = false;
      for (const Entry& e : known(entries(item, prefix), kKubernetesSdKeys, prefix)) {
        if (e.name == "role") {
          static constexpr std::array<std::pair<std::string_view, std::string_view>, 1> kRoles{{{"pod", "pod"}}};
          if (const Read<std::string_view> r = enum_field(e, kRoles, prefix); r.value) sd.role = std::string(*r.value);
        } else if (e.name == "api_server") {
          if (const Read<std::string> r = string_field(e, prefix); r.value) {
            if (const common::Result<void> ok = check_api_server(*r.value); !ok) {
              error(value_position(e), prefix + ok.error().message);
            } else {
              sd.api_server = *r.value;
            }
          }
        } else if (e.name == "bearer_token_file") {
          if (const Read<std::string> r = string_field(e, prefix); r.value) sd.bearer_token_file = *r.value;
        } else if (e.name == "tls_config") {
          decode_tls(e, prefix, sd.tls_config);
          ca_set = !sd.tls_config.ca_file.empty();
        } else if (e.name == "namespaces") {
          decode_namespaces(e, prefix, sd.namespaces);
        }
      }
      if (sd.api_server.empty()) {
        // In-cluster: the pod's service account, as client-go's InClusterConfig does.
        if (sd.bearer_token_file.empty()) sd.bearer_token_file = std::string(kInClusterTokenFile);
        if (!ca_set) sd.tls_config.ca_file = std::string(kInClusterCaFile);
      }
      out.push_back(std::move(sd));
    }
  }

  // `namespaces: [a, b]`, or Prometheus' `namespaces: {names: [a, b]}`.
  void decode_namespaces(const Entry& e, const std::string& prefix, std::vector<std::string>& out) {
    if (e.value.IsNull()) return;
    if (e.value.IsMap()) {
      // (yaml-cpp's Node::operator= writes through to the document, so no Entry is reassigned here.)
      const std::string inner = prefix + "namespaces: ";
      for (const Entry& n : known(entries(e.value, inner), kNamespacesKeys, inner)) {
        decode_namespace_list(n, prefix, out);
      }
      return;
    }
    decode_namespace_list(e, prefix, out);
  }

  void decode_namespace_list(const Entry& e, const std::string& prefix, std::vector<std::string>& out) {
    const Read<std::vector<std::string>> r = string_list_field(e, prefix);
    if (!r.value) return;
    std::size_t i = 0;
    for (auto n = e.value.begin(); n != e.value.end(); ++n, ++i) {
      if (const common::Result<void> ok = check_namespace((*r.value)[i]); !ok) {
        error(position_of(*n), prefix + "namespaces: " + ok.error().message);
        continue;
      }
      out.push_back((*r.value)[i]);
    }
  }

 public:
  // A file_sd file: a list of {targets, labels} groups; the same checks as static_configs. `seen` spans the
  // file, so a target listed twice in one file is reported.
  std::vector<StaticConfig> decode_target_file(const YAML::Node& root) {
    std::vector<StaticConfig> out;
    scope_ = "file";
    if (root.IsNull()) return out;  // an empty file is an empty list
    if (!root.IsSequence()) {
      error(position_of(root), "expected a list of {targets, labels} groups, got " + describe(root));
      return out;
    }
    std::map<HostPort, Position> seen;
    std::size_t index = 0;
    for (auto it = root.begin(); it != root.end(); ++it, ++index) {
      // Appended, not `"[" + to_string(index) + ...`: GCC 12 -O3 reports a false -Wrestrict on that form.
      std::string prefix = "[";
      prefix += std::to_string(index);
      prefix += "]: ";
      decode_group(*it, prefix, seen, out);
    }
    return out;
  }

 private:
  void decode_targets(const Entry& e, const std::string& prefix, std::map<HostPort, Position>& seen,
                      std::vector<std::string>& out) {
    if (e.value.IsNull()) return;
    if (!expect(e, YAML::NodeType::Sequence, "a sequence of host:port strings", prefix)) return;
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
      const YAML::Node t = *it;
      const Position pos = position_of(t);
      if (!t.IsScalar()) {
        error(pos, prefix + "targets: expected a host:port string, got " + describe(t));
        continue;
      }
      const common::Result<HostPort> parsed = parse_target(t.Scalar());
      if (!parsed) {
        error(pos, prefix + parsed.error().message);
        continue;
      }
      const auto [first, inserted] = seen.emplace(*parsed, pos);
      if (!inserted) {
        error(pos, prefix + "duplicate target " + quote(t.Scalar()) + " in this " + std::string(scope_) +
                       "; first listed at " + at(first->second));
        continue;
      }
      out.push_back(t.Scalar());
    }
  }

  void decode_labels(const Entry& e, const std::string& prefix, std::map<std::string, std::string>& out) {
    if (e.value.IsNull()) return;
    if (!expect(e, YAML::NodeType::Map, "a mapping of label names to values", prefix)) return;
    for (const Entry& l : entries(e.value, prefix)) {
      if (const common::Result<void> ok = check_label_name(l.name); !ok) {
        error(position_of(l.key), prefix + ok.error().message);
        continue;
      }
      // Null means an empty value, which Prometheus treats as the label being absent.
      const Read<std::string> v = string_field(l, prefix + "label ");
      if (v.bad) continue;
      const std::string value = v.value.value_or("");
      if (!common::is_valid_utf8(value)) {
        error(value_position(l), prefix + "label " + l.name + ": value is not valid UTF-8");
        continue;
      }
      out.emplace(l.name, value);
    }
  }

  const detect::Options* global_detection_ = nullptr;  // set once the global section is decoded
  std::string_view scope_ = "job";                     // where a duplicate target was listed twice
};

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) return {};
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0x0f];
  }
  return out;
}

}  // namespace

LoadResult load_string(std::string_view yaml, const std::string& file) {
  std::vector<Diagnostic> diagnostics;
  Config config;
  Decoder decoder(file, diagnostics);
  decode_document(yaml, file, diagnostics, [&](const YAML::Node& root) { config = decoder.decode(root); });
  if (!diagnostics.empty()) return diagnostics;
  std::string digest = sha256_hex(yaml);
  if (digest.empty()) return std::vector<Diagnostic>{{file, 0, 0, "cannot compute the sha256 of the file"}};
  return Loaded{std::make_shared<const Config>(std::move(config)), std::move(digest)};
}

namespace {

// As in Prometheus, file names in a config are relative to the config file's directory, not to wherever the
// daemon happens to be started from.
std::shared_ptr<const Config> resolve_relative_paths(std::shared_ptr<const Config> config, const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  auto copy = std::make_shared<Config>(*config);
  bool changed = false;
  const auto resolve = [&](std::string& p) {
    if (p.empty() || std::filesystem::path(p).is_absolute()) return;
    p = (dir / p).lexically_normal().string();
    changed = true;
  };
  for (ScrapeConfig& job : copy->scrape_configs) {
    resolve(job.tls_config.ca_file);
    resolve(job.tls_config.cert_file);
    resolve(job.tls_config.key_file);
    if (job.basic_auth) {
      resolve(job.basic_auth->username_file);
      resolve(job.basic_auth->password_file);
    }
    if (job.authorization) resolve(job.authorization->credentials_file);
    for (auto& [name, header] : job.http_headers) {
      for (std::string& f : header.files) resolve(f);
    }
    for (FileSdConfig& sd : job.file_sd_configs) {
      for (std::string& f : sd.files) resolve(f);
    }
    for (KubernetesSdConfig& sd : job.kubernetes_sd_configs) {
      resolve(sd.bearer_token_file);
      resolve(sd.tls_config.ca_file);
      resolve(sd.tls_config.cert_file);
      resolve(sd.tls_config.key_file);
    }
  }
  return changed ? copy : config;
}

}  // namespace

TargetFileResult load_target_groups(std::string_view text, const std::string& file) {
  std::vector<Diagnostic> diagnostics;
  std::vector<StaticConfig> groups;
  Decoder decoder(file, diagnostics);
  decode_document(text, file, diagnostics, [&](const YAML::Node& root) { groups = decoder.decode_target_file(root); });
  if (!diagnostics.empty()) return diagnostics;
  return groups;
}

LoadResult load_file(const std::string& path) {
  auto bytes = common::read_file(path, kMaxConfigBytes);
  if (!bytes) return std::vector<Diagnostic>{{path, 0, 0, "cannot read config file: " + bytes.error().message}};
  LoadResult result = load_string(*bytes, path);
  if (auto* ok = std::get_if<Loaded>(&result)) ok->config = resolve_relative_paths(std::move(ok->config), path);
  return result;
}

}  // namespace leakwatch::config
