#include "leakwatch/config/load.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

using namespace leakwatch::config;
using namespace std::chrono_literals;

namespace {

const std::string kDir = std::string(LEAKWATCH_TESTDATA_DIR) + "/config/";

std::string render(const std::vector<Diagnostic>& ds) {
  std::ostringstream out;
  for (const Diagnostic& d : ds) out << "\n  " << d.to_string();
  return out.str();
}

// Assertions rather than plain returns, so a section that only loads a file still counts as checked
// (CTest runs with --warn NoAssertions).
const Config& loaded(const LoadResult& r) {
  const auto* ds = std::get_if<std::vector<Diagnostic>>(&r);
  INFO("diagnostics:" << (ds != nullptr ? render(*ds) : ""));
  REQUIRE(ds == nullptr);
  return *std::get<Loaded>(r).config;
}

const std::vector<Diagnostic>& rejected(const LoadResult& r) {
  REQUIRE(std::holds_alternative<std::vector<Diagnostic>>(r));
  return std::get<std::vector<Diagnostic>>(r);
}

const ScrapeConfig& job(const Config& c, std::string_view name) {
  const auto it = std::find_if(c.scrape_configs.begin(), c.scrape_configs.end(),
                               [&](const ScrapeConfig& s) { return s.job_name == name; });
  INFO("job " << name);
  REQUIRE(it != c.scrape_configs.end());
  return *it;
}

// Every failure mode has one file, and each file the exact diagnostics it produces, in order: "line:column:
// message". A message may be cut short where the rest is a long, shared hint. This table doubles as the
// documentation of leakwatch's config errors.
struct BadCase {
  std::string_view file;
  std::vector<std::string_view> errors;
};

const std::vector<BadCase> kBadCases = {
    // YAML itself
    {"syntax.bad.yml", {"3:15: YAML syntax error: end of sequence flow not found"}},
    {"multiple_documents.bad.yml", {"2:1: expected one YAML document, found more; remove the extra '---'"}},
    {"key_not_string.bad.yml", {"1:3: keys must be strings, got a sequence"}},
    // structure and types
    {"top_level_sequence.bad.yml",
     {"1:1: the top level must be a mapping with global: and scrape_configs:, got a sequence"}},
    {"top_level_scalar.bad.yml",
     {"1:1: the top level must be a mapping with global: and scrape_configs:, got \"scrape_interval 15s\""}},
    {"global_not_mapping.bad.yml", {"1:9: global: expected a mapping, got a sequence"}},
    {"scrape_configs_not_sequence.bad.yml", {"2:3: scrape_configs: expected a sequence of jobs, got a mapping"}},
    {"job_not_mapping.bad.yml",
     {"2:5: scrape_configs[0]: expected a mapping with job_name and static_configs, got \"app\""}},
    {"static_config_not_mapping.bad.yml",
     {"4:9: job \"app\": static_configs[0]: expected a mapping with targets and labels, got \"127.0.0.1:6060\""}},
    {"tls_not_mapping.bad.yml", {"3:17: job \"app\": tls_config: expected a mapping, got \"true\""}},
    {"targets_not_sequence.bad.yml",
     {"4:18: job \"app\": static_configs[0]: targets: expected a sequence of host:port strings, got "
      "\"127.0.0.1:6060\""}},
    {"target_not_string.bad.yml",
     {"5:13: job \"app\": static_configs[0]: targets: expected a host:port string, got a mapping"}},
    {"job_name_mapping.bad.yml", {"2:15: scrape_configs[0]: job_name: expected a string, got a mapping"}},
    {"duration_mapping.bad.yml", {"3:21: job \"app\": scrape_timeout: expected a duration such as 15s, got a mapping"}},
    {"label_value_mapping.bad.yml",
     {"6:17: job \"app\": static_configs[0]: label team: expected a string, got a mapping"}},
    {"tls_bool.bad.yml", {"5:29: job \"app\": tls_config: insecure_skip_verify: expected true or false, got \"yes\""}},
    // unknown and duplicate keys
    {"unknown_top_key.bad.yml", {"2:1: unknown key \"scrape_config\"; allowed: global, scrape_configs"}},
    {"unknown_global_key.bad.yml",
     {"2:3: global: unknown key \"scrape_intervall\"; allowed: scrape_interval, scrape_timeout, body_size_limit, "
      "max_frames_per_stack, max_stack_groups, detection"}},
    {"unknown_job_key.bad.yml",
     {"3:5: job \"app\": unknown key \"target\"; allowed: job_name, scheme, profile, profile_path, format, "
      "scrape_interval, scrape_timeout, body_size_limit, tls_config, static_configs, file_sd_configs, "
      "kubernetes_sd_configs, detection"}},
    {"unknown_tls_key.bad.yml",
     {"5:7: job \"app\": tls_config: unknown key \"ca\"; allowed: ca_file, cert_file, key_file, server_name, "
      "insecure_skip_verify"}},
    {"unknown_static_key.bad.yml",
     {"5:9: job \"app\": static_configs[0]: unknown key \"label\"; allowed: targets, labels"}},
    {"duplicate_key.bad.yml", {"3:3: global: duplicate key \"scrape_interval\"; first defined at line 2, column 3"}},
    {"duplicate_job_key.bad.yml", {"4:5: job \"app\": duplicate key \"scheme\"; first defined at line 3, column 5"}},
    {"duplicate_label.bad.yml",
     {"7:11: job \"app\": static_configs[0]: duplicate key \"team\"; first defined at line 6, column 11"}},
    // durations, sizes and their relations
    {"interval_no_unit.bad.yml",
     {"2:20: global: scrape_interval: invalid duration \"5\"; expected a number with a unit (ms, s, m, h, d, w, y)"}},
    {"duration_units_order.bad.yml",
     {"2:19: global: scrape_timeout: invalid duration \"30s1m\"; expected a number with a unit (ms, s, m, h, d, w, y), "
      "largest unit first, e.g. 15s or 1m30s"}},
    {"interval_zero.bad.yml", {"2:20: global: scrape_interval: must be greater than 0"}},
    {"global_timeout_too_long.bad.yml",
     {"3:19: global: scrape_timeout (20s) must not be greater than scrape_interval (10s)"}},
    {"job_timeout_too_long.bad.yml",
     {"4:21: job \"app\": scrape_timeout (6s) must not be greater than scrape_interval (5s)"}},
    {"job_timeout_too_long_inherited.bad.yml",
     {"5:21: job \"app\": scrape_timeout (1m) must not be greater than scrape_interval (10s, from global)"}},
    {"body_size_invalid.bad.yml",
     {"2:20: global: body_size_limit: invalid size \"64Q\"; expected a byte count with an optional unit (B, KB, MB, "
      "GB, TB, KiB, MiB, GiB, TiB), e.g. 64MiB"}},
    {"limits_invalid.bad.yml",
     {"2:25: global: max_frames_per_stack: expected a whole number from 1 to 100000, got \"0\"",
      "3:21: global: max_stack_groups: expected a whole number from 1 to 10000000, got \"1e6\""}},
    {"body_size_zero.bad.yml", {"3:22: job \"app\": body_size_limit: must be greater than 0"}},
    // job fields
    {"scheme_invalid.bad.yml", {"3:13: job \"app\": scheme: invalid value \"ftp\"; allowed: http, https"}},
    {"format_invalid.bad.yml",
     {"3:13: job \"app\": format: invalid value \"debug3\"; allowed: debug0, debug1, debug2"}},
    // detection
    {"detection_number.bad.yml",
     {"3:14: global: detection: p_value: expected a number from 1e-12 to 1, got \"2\"",
      "4:19: global: detection: min_increase: expected a number from 0 to 1e+09, got \"lots\""}},
    {"detection_unknown_key.bad.yml",
     {"4:7: job \"app\": detection: unknown key \"windw\"; allowed: method, window, max_samples, min_duration, "
      "min_samples, p_value, min_increase, saturation_ratio, pace_ratio, pace_min_arrivals, max_dispersion, "
      "explained_ratio, min_leaked, survival_ratio, warmup, restart_drop, restart_gap_drop, recurrence_instances, "
      "for, keep_firing_for, max_stack_series, max_tracked_stacks, stale_polls, app_modules, plumbing_prefixes, "
      "goroutine_limit, seed_points, seed_factor, seed_consecutive, seed_absolute_cap"}},
    {"detection_window_too_short.bad.yml",
     {"4:5: job \"app\": detection: window (3m) holds 6 polls at scrape_interval 30s (max_samples 720), fewer "
      "than min_samples (8): nothing could ever alert"}},
    {"detection_min_duration.bad.yml",
     {"2:3: global: detection: min_duration (2h) must not be greater than window (1h)"}},
    {"profile_invalid.bad.yml",
     {"3:14: job \"app\": profile: invalid value \"leaks\"; allowed: goroutine, goroutineleak"}},
    {"profile_leak_debug2.bad.yml",
     {"4:13: job \"app\": format: debug2 cannot be used with profile: goroutineleak (its debug=2 output lists "
      "every goroutine, not only the leaked ones); use debug1 or debug0"}},
    {"goroutineleak_keys.bad.yml",
     {"4:13: job \"app\": goroutineleak: poll: invalid value \"yes\"; allowed: auto, always, never",
      "5:17: job \"app\": goroutineleak: interval: invalid duration \"soon\"; expected a number with a unit (ms, "
      "s, m, h, d, w, y), largest unit first, e.g. 15s or 1m30s",
      "6:13: job \"app\": goroutineleak: profile_path \"debug/pprof/goroutineleak\" must start with '/'",
      "7:7: job \"app\": goroutineleak: unknown key \"seconds\"; allowed: poll, interval, path",
      "12:5: job \"leaks\": goroutineleak: applies to profile: goroutine jobs (this job polls the goroutineleak "
      "profile itself)"}},
    {"profile_path_query.bad.yml",
     {"3:19: job \"app\": profile_path \"/debug/pprof/goroutine?debug=2\" must not contain a query; use format: to "
      "choose ?debug=N"}},
    {"profile_path_relative.bad.yml",
     {"3:19: job \"app\": profile_path \"debug/pprof/goroutine\" must start with '/'"}},
    {"job_name_missing.bad.yml", {"2:5: scrape_configs[0]: job_name is required"}},
    {"job_name_empty.bad.yml", {"2:15: scrape_configs[0]: job_name must not be empty"}},
    {"job_name_control.bad.yml",
     {"2:15: scrape_configs[0]: job_name \"app\\x09server\" must not contain control characters"}},
    {"job_name_duplicate.bad.yml",
     {"6:15: scrape_configs[2]: duplicate job_name \"app\"; first used at line 2, column 15"}},
    {"job_no_targets.bad.yml",
     {"2:5: job \"app\": no targets: set static_configs, file_sd_configs or kubernetes_sd_configs"}},
    // service discovery
    {"file_sd_no_files.bad.yml", {"4:9: job \"app\": file_sd_configs[0]: files is required (a list of paths)"}},
    {"file_sd_bad_path.bad.yml",
     {"5:13: job \"app\": file_sd_configs[0]: files: \"targets/*.txt\" must end in .json, .yml or .yaml",
      "6:13: job \"app\": file_sd_configs[0]: files: \"*/targets.json\": only the last path element may contain a "
      "glob (*, ?, [...])"}},
    {"file_sd_refresh_invalid.bad.yml",
     {"5:27: job \"app\": file_sd_configs[0]: refresh_interval: must be greater than 0"}},
    {"unknown_file_sd_key.bad.yml",
     {"4:9: job \"app\": file_sd_configs[0]: unknown key \"file\"; allowed: files, refresh_interval"}},
    {"kubernetes_role_invalid.bad.yml",
     {"4:15: job \"app\": kubernetes_sd_configs[0]: role: invalid value \"service\"; allowed: pod"}},
    {"kubernetes_api_server_invalid.bad.yml",
     {"4:21: job \"app\": kubernetes_sd_configs[0]: api_server \"10.0.0.1:6443\" must be an http:// or https:// "
      "URL, e.g. https://10.0.0.1:6443",
      "5:21: job \"app\": kubernetes_sd_configs[1]: api_server \"https://10.0.0.1:6443/api\" must be "
      "scheme://host[:port] with no path"}},
    {"kubernetes_namespace_invalid.bad.yml",
     {"4:31: job \"app\": kubernetes_sd_configs[0]: namespaces: namespace \"Payments\" is invalid; names are at "
      "most 63 lowercase letters"}},
    {"unknown_kubernetes_key.bad.yml",
     {"5:9: job \"app\": kubernetes_sd_configs[0]: unknown key \"namespace\"; allowed: role, api_server, "
      "bearer_token_file, tls_config, namespaces"}},
    // targets
    {"target_scheme.bad.yml",
     {"4:19: job \"app\": static_configs[0]: target \"http://127.0.0.1:6060\" must not include a scheme; write "
      "host:port and set the job's scheme"}},
    {"target_path.bad.yml",
     {"4:19: job \"app\": static_configs[0]: target \"127.0.0.1:6060/debug/pprof/goroutine\" must not include a "
      "path; write host:port and set the job's profile_path"}},
    {"target_no_port.bad.yml",
     {"4:19: job \"app\": static_configs[0]: target \"localhost\" has no port; write host:port, e.g. "
      "localhost:6060"}},
    {"target_bad_port.bad.yml",
     {"5:13: job \"app\": static_configs[0]: target \"127.0.0.1:0\" has an invalid port \"0\"; ports are 1..65535",
      "6:13: job \"app\": static_configs[0]: target \"127.0.0.1:65536\" has an invalid port \"65536\"; ports are "
      "1..65535",
      "7:13: job \"app\": static_configs[0]: target \"127.0.0.1:http\" has an invalid port \"http\"; ports are "
      "1..65535"}},
    {"target_ipv6_unbracketed.bad.yml",
     {"4:19: job \"app\": static_configs[0]: target \"::1:6060\": an IPv6 address must be in brackets, e.g. "
      "[::1]:6060"}},
    {"target_duplicate.bad.yml",
     {"5:19: job \"app\": static_configs[1]: duplicate target \"127.0.0.1:6060\" in this job; first listed at line "
      "4, column 19"}},
    // labels
    {"label_invalid_name.bad.yml",
     {"6:11: job \"app\": static_configs[0]: label name \"1team\" is invalid; names must match "
      "[a-zA-Z_][a-zA-Z0-9_]*",
      "7:11: job \"app\": static_configs[0]: label name \"team-name\" is invalid; names must match "
      "[a-zA-Z_][a-zA-Z0-9_]*"}},
    {"label_reserved.bad.yml",
     {"6:11: job \"app\": static_configs[0]: label name \"__name__\" is reserved; names starting with \"__\" are "
      "internal",
      "7:11: job \"app\": static_configs[0]: label name \"job\" is reserved; leakwatch or Prometheus sets it",
      "8:11: job \"app\": static_configs[0]: label name \"service\" is reserved; leakwatch or Prometheus sets it",
      "9:11: job \"app\": static_configs[0]: label name \"quantile\" is reserved; leakwatch or Prometheus sets it"}},
    // every problem is reported, in file order, and one bad value does not cascade into follow-up errors
    // (job 2's 20s timeout is not compared against the invalid global interval)
    {"many_errors.bad.yml",
     {"3:20: global: scrape_interval: invalid duration \"15\"",
      "7:13: job \"payments\": scheme: invalid value \"ftp\"; allowed: http, https",
      "9:37: job \"payments\": static_configs[0]: target \"127.0.0.1\" has no port",
      "10:15: scrape_configs[1]: duplicate job_name \"payments\"; first used at line 6, column 15",
      "11:13: job \"payments\": format: invalid value \"debug9\"; allowed: debug0, debug1, debug2"}},
    // credentials (Prometheus' messages where it has them)
    {"auth_exclusive.bad.yml",
     {"5:7: job \"both\": basic_auth: at most one of basic_auth username & username_file must be configured",
      "7:7: job \"both\": basic_auth: at most one of basic_auth password & password_file must be configured",
      "8:5: job \"both\": at most one of basic_auth & authorization must be configured",
      "10:7: job \"both\": authorization: at most one of authorization credentials & credentials_file must be "
      "configured",
      "15:13: job \"basic-type\": authorization: authorization type cannot be set to \"basic\", use \"basic_auth\" "
      "instead"}},
    {"auth_tls_headers.bad.yml",
     {"5:7: job \"half\": tls_config: cert_file needs key_file",
      "10:7: job \"headers\": http_headers: setting header \"Authorization\" is not allowed",
      "12:7: job \"headers\": http_headers: \"bad name\" is not a valid header name",
      "15:18: job \"headers\": http_headers: X-Ok: secrets: a value holds a line break or NUL",
      "16:9: job \"headers\": http_headers: X-Ok: unknown key \"valuez\"; allowed: values, secrets, files",
      "17:7: job \"headers\": http_headers: header \"x-ok\" is given twice (names are case-insensitive)"}},
};

std::vector<std::string> files_in_testdata(std::string_view suffix) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(kDir)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(suffix)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("each bad config file produces exactly its table's diagnostics", "[config]") {
  for (const BadCase& c : kBadCases) {
    DYNAMIC_SECTION(c.file) {
      const std::string path = kDir + std::string(c.file);
      const LoadResult r = load_file(path);
      const std::vector<Diagnostic>& ds = rejected(r);
      INFO("got:" << render(ds));
      REQUIRE(ds.size() == c.errors.size());
      for (std::size_t i = 0; i < ds.size(); ++i) {
        CHECK(ds[i].file == path);
        const std::string got = std::to_string(ds[i].line) + ":" + std::to_string(ds[i].column) + ": " + ds[i].message;
        CHECK_THAT(got, Catch::StartsWith(std::string(c.errors[i])));
      }
    }
  }
}

TEST_CASE("every *.bad.yml file is in the table, and every table entry has a file", "[config]") {
  std::set<std::string> in_table;
  for (const BadCase& c : kBadCases) in_table.emplace(c.file);
  const std::vector<std::string> on_disk = files_in_testdata(".bad.yml");
  CHECK(std::vector<std::string>(in_table.begin(), in_table.end()) == on_disk);
  CHECK(in_table.size() == kBadCases.size());  // no file listed twice
}

TEST_CASE("every *.good.yml file loads", "[config]") {
  for (const std::string& name : files_in_testdata(".good.yml")) {
    DYNAMIC_SECTION(name) { loaded(load_file(kDir + name)); }
  }
}

TEST_CASE("an empty file is an empty, valid config with the global defaults", "[config]") {
  for (const char* name : {"empty.good.yml", "comments_only.good.yml"}) {
    DYNAMIC_SECTION(name) {
      const LoadResult r = load_file(kDir + name);
      const Config& c = loaded(r);
      CHECK(c.scrape_configs.empty());
      CHECK(c.global.scrape_interval == 15s);
      CHECK(c.global.scrape_timeout == 10s);
      CHECK(c.global.body_size_limit == 64ull << 20);
    }
  }
  CHECK(loaded(load_string("", "inline")).scrape_configs.empty());
  CHECK(loaded(load_string("---\n", "inline")).scrape_configs.empty());
  CHECK(loaded(load_string("scrape_configs: []\n", "inline")).scrape_configs.empty());
}

TEST_CASE("input on which yaml-cpp's LoadAll never returns is refused at once", "[config]") {
  // A stray ',' outside any flow collection: YAML::LoadAll loops and allocates forever on it (fuzz finding);
  // the loader counts documents itself.
  for (const char* text : {",", " ,\n", "global: {}\n,\n"}) {
    DYNAMIC_SECTION(text) {
      const LoadResult r = load_string(text, "inline");
      CHECK_FALSE(rejected(r).empty());
    }
  }
}

TEST_CASE("a minimal job takes every default", "[config]") {
  const LoadResult r = load_file(kDir + "minimal.good.yml");
  const Config& c = loaded(r);
  REQUIRE(c.scrape_configs.size() == 1);
  const ScrapeConfig& j = c.scrape_configs[0];
  CHECK(j.job_name == "app");
  CHECK(j.scheme == Scheme::http);
  CHECK(j.profile_path == "/debug/pprof/goroutine");
  CHECK(j.format == leakwatch::pprof::Format::debug1);
  CHECK(j.scrape_interval == 15s);
  CHECK(j.scrape_timeout == 10s);
  CHECK(j.body_size_limit == 64ull << 20);
  CHECK(j.tls_config.ca_file.empty());
  CHECK(j.tls_config.server_name.empty());
  CHECK_FALSE(j.tls_config.insecure_skip_verify);
  REQUIRE(j.static_configs.size() == 1);
  CHECK(j.static_configs[0].targets == std::vector<std::string>{"127.0.0.1:6060"});
  CHECK(j.static_configs[0].labels.empty());
}

TEST_CASE("profile: goroutineleak polls the goroutineleak endpoint unless profile_path says otherwise", "[config]") {
  const LoadResult r = load_file(kDir + "goroutineleak.good.yml");
  const Config& c = loaded(r);
  REQUIRE(c.scrape_configs.size() == 3);
  CHECK(c.scrape_configs[0].profile == leakwatch::pprof::ProfileKind::goroutine);
  CHECK(c.scrape_configs[0].profile_path == "/debug/pprof/goroutine");
  CHECK(c.scrape_configs[1].profile == leakwatch::pprof::ProfileKind::goroutineleak);
  CHECK(c.scrape_configs[1].profile_path == "/debug/pprof/goroutineleak");
  CHECK(c.scrape_configs[1].format == leakwatch::pprof::Format::debug1);
  CHECK(c.scrape_configs[2].profile == leakwatch::pprof::ProfileKind::goroutineleak);
  CHECK(c.scrape_configs[2].profile_path == "/internal/pprof/goroutineleak");
  CHECK(c.scrape_configs[2].format == leakwatch::pprof::Format::debug0);
}

TEST_CASE("goroutineleak: the runtime's proof beside a goroutine job, auto every 30m by default", "[config]") {
  using leakwatch::config::LeakProofPoll;
  const LoadResult r = load_string(R"(scrape_configs:
  - job_name: plain
    static_configs: [{targets: ["127.0.0.1:6060"]}]
  - job_name: tuned
    goroutineleak: {poll: always, interval: 2h, path: /internal/goroutineleak}
    detection: {min_leaked: 3}
    static_configs: [{targets: ["127.0.0.1:6060"]}]
  - job_name: off
    goroutineleak: {poll: never}
    static_configs: [{targets: ["127.0.0.1:6060"]}]
  - job_name: leaks
    profile: goroutineleak
    static_configs: [{targets: ["127.0.0.1:6060"]}]
)",
                                   "inline");
  const Config& c = loaded(r);
  REQUIRE(c.scrape_configs.size() == 4);
  const auto& plain = c.scrape_configs[0].goroutineleak;
  CHECK(plain.poll == LeakProofPoll::auto_detect);
  CHECK(plain.interval == leakwatch::common::Duration{30 * 60'000});
  CHECK(plain.path == "/debug/pprof/goroutineleak");
  CHECK(c.scrape_configs[0].detection.min_leaked == 1);
  const auto& tuned = c.scrape_configs[1].goroutineleak;
  CHECK(tuned.poll == LeakProofPoll::always);
  CHECK(tuned.interval == leakwatch::common::Duration{2 * 3'600'000});
  CHECK(tuned.path == "/internal/goroutineleak");
  CHECK(c.scrape_configs[1].detection.min_leaked == 3);
  CHECK(c.scrape_configs[2].goroutineleak.poll == LeakProofPoll::never);
  // A goroutineleak job is the proof itself: nothing more to poll beside it.
  CHECK(c.scrape_configs[3].goroutineleak.poll == LeakProofPoll::never);
}

TEST_CASE("debug2: adaptive debug=2 beside debug1 and debug0 jobs, every 10m by default", "[config]") {
  const LoadResult r = load_string(R"(scrape_configs:
  - job_name: plain
    static_configs: [{targets: ["127.0.0.1:6060"]}]
  - job_name: tuned
    format: debug0
    debug2: {interval: 30m, min_interval: 2m, max_goroutines: 500, max_bytes: 4MiB}
    static_configs: [{targets: ["127.0.0.1:6060"]}]
  - job_name: off
    debug2: {interval: 0s}
    static_configs: [{targets: ["127.0.0.1:6060"]}]
  - job_name: every_poll_is_debug2
    format: debug2
    static_configs: [{targets: ["127.0.0.1:6060"]}]
  - job_name: leaks
    profile: goroutineleak
    static_configs: [{targets: ["127.0.0.1:6060"]}]
)",
                                   "inline");
  const Config& c = loaded(r);
  REQUIRE(c.scrape_configs.size() == 5);
  const auto& plain = c.scrape_configs[0].debug2;
  CHECK(plain.interval == leakwatch::common::Duration{10 * 60'000});
  CHECK(plain.min_interval == leakwatch::common::Duration{60'000});
  CHECK(plain.max_goroutines == 10'000);
  CHECK(plain.max_bytes == 16u << 20);
  const auto& tuned = c.scrape_configs[1].debug2;
  CHECK(tuned.interval == leakwatch::common::Duration{30 * 60'000});
  CHECK(tuned.min_interval == leakwatch::common::Duration{2 * 60'000});
  CHECK(tuned.max_goroutines == 500);
  CHECK(tuned.max_bytes == 4u << 20);
  for (std::size_t i : {2, 3, 4}) CHECK(c.scrape_configs[i].debug2.interval.count() == 0);

  const LoadResult bad = load_string(R"(scrape_configs:
  - job_name: app
    debug2: {interval: soon, max_goroutines: 0, every: 1m}
    static_configs: [{targets: ["127.0.0.1:6060"]}]
)",
                                     "inline");
  std::vector<std::string> got;
  for (const auto& d : rejected(bad)) got.push_back(d.to_string());
  CHECK(got == std::vector<std::string>{
                   "inline:3:24: job \"app\": debug2: interval: invalid duration \"soon\"; expected a number with a "
                   "unit (ms, s, m, h, d, w, y), largest unit first, e.g. 15s or 1m30s",
                   "inline:3:46: job \"app\": debug2: max_goroutines: expected a whole number from 1 to 100000000, got "
                   "\"0\"",
                   "inline:3:49: job \"app\": debug2: unknown key \"every\"; allowed: interval, min_interval, "
                   "max_goroutines, max_bytes"});
}

TEST_CASE("detection settings: global defaults, and a job's keys applied over them", "[config]") {
  using leakwatch::detect::Method;
  const LoadResult r = load_file(kDir + "detection.good.yml");
  const Config& c = loaded(r);
  const leakwatch::detect::Options defaults;
  CHECK(c.global.detection.window == 2h);
  CHECK(c.global.detection.for_duration == 10min);
  CHECK(c.global.detection.p_value == 0.001);
  CHECK(c.global.detection.max_stack_series == 10);
  CHECK(c.global.detection.goroutine_limit == 50000);
  CHECK(c.global.detection.app_modules == std::vector<std::string>{"github.com/acme/payments"});
  CHECK(c.global.detection.warmup == defaults.warmup);
  REQUIRE(c.scrape_configs.size() == 2);
  CHECK(c.scrape_configs[0].detection == c.global.detection);  // no section: the global values
  const leakwatch::detect::Options& b = c.scrape_configs[1].detection;
  CHECK(b.method == Method::seed);
  CHECK(b.for_duration == 0s);
  CHECK(b.warmup == 0s);
  CHECK(b.max_dispersion == 0.3);
  CHECK(b.plumbing_prefixes == std::vector<std::string>{"google.golang.org/grpc."});
  CHECK(b.window == 2h);  // inherited
  CHECK(b.p_value == 0.001);
  CHECK(b.app_modules == c.global.detection.app_modules);
  // A file without detection: sections has the documented defaults.
  CHECK(loaded(load_file(kDir + "minimal.good.yml")).scrape_configs[0].detection == defaults);
}

TEST_CASE("every key is read", "[config]") {
  const LoadResult r = load_file(kDir + "full.good.yml");
  const Config& c = loaded(r);
  CHECK(c.global.scrape_interval == 1min);
  CHECK(c.global.scrape_timeout == 15s);
  CHECK(c.global.body_size_limit == 32ull << 20);
  CHECK(c.global.max_frames_per_stack == 256);
  CHECK(c.global.max_stack_groups == 5000);
  REQUIRE(c.scrape_configs.size() == 2);

  const ScrapeConfig& p = c.scrape_configs[0];
  CHECK(p.job_name == "payments");
  CHECK(p.scheme == Scheme::https);
  CHECK(p.profile_path == "/internal/pprof/goroutine");
  CHECK(p.format == leakwatch::pprof::Format::debug2);
  CHECK(p.scrape_interval == 5s);
  CHECK(p.scrape_timeout == 2s);
  CHECK(p.body_size_limit == 16ull << 20);
  CHECK(p.tls_config.ca_file == "/etc/leakwatch/ca.pem");
  CHECK(p.tls_config.server_name == "payments.internal");
  CHECK_FALSE(p.tls_config.insecure_skip_verify);
  REQUIRE(p.static_configs.size() == 1);
  CHECK(p.static_configs[0].targets == std::vector<std::string>{"127.0.0.1:6060", "127.0.0.1:6061"});
  CHECK(p.static_configs[0].labels == std::map<std::string, std::string>{{"env", "prod"}, {"team", "payments"}});

  const ScrapeConfig& w = c.scrape_configs[1];
  CHECK(w.job_name == "worker pool (eu)");
  CHECK(w.format == leakwatch::pprof::Format::debug0);
  CHECK(w.tls_config.insecure_skip_verify);
  CHECK(w.scrape_interval == 1min);
  CHECK(w.scrape_timeout == 15s);
  CHECK(w.body_size_limit == 32ull << 20);
  CHECK(w.static_configs.empty());
  REQUIRE(w.file_sd_configs.size() == 1);
  CHECK(w.file_sd_configs[0].files == std::vector<std::string>{"/etc/leakwatch/sd/*.json"});
  CHECK(w.file_sd_configs[0].refresh_interval == 1min);
  REQUIRE(w.kubernetes_sd_configs.size() == 1);
  const KubernetesSdConfig& k = w.kubernetes_sd_configs[0];
  CHECK(k.role == "pod");
  CHECK(k.api_server == "https://10.0.0.1:6443");
  CHECK(k.bearer_token_file == "/etc/leakwatch/k8s-token");
  CHECK(k.tls_config.ca_file == "/etc/leakwatch/k8s-ca.pem");
  CHECK(k.namespaces == std::vector<std::string>{"workers"});
}

TEST_CASE("service discovery configs: defaults, in-cluster defaults, relative files", "[config]") {
  const LoadResult r = load_file(kDir + "sd.good.yml");
  const Config& c = loaded(r);
  const ScrapeConfig& files = job(c, "files");
  REQUIRE(files.file_sd_configs.size() == 2);
  CHECK(files.file_sd_configs[0].files ==
        std::vector<std::string>{"/etc/leakwatch/targets/*.json",
                                 (std::filesystem::path(kDir) / "targets.yml").lexically_normal().string()});
  CHECK(files.file_sd_configs[0].refresh_interval == 30s);
  CHECK(files.file_sd_configs[1].refresh_interval == 5min);  // the default
  CHECK(files.static_configs.size() == 1);

  const ScrapeConfig& pods = job(c, "pods");
  REQUIRE(pods.kubernetes_sd_configs.size() == 3);
  const KubernetesSdConfig& in_cluster = pods.kubernetes_sd_configs[0];
  CHECK(in_cluster.role == "pod");
  CHECK(in_cluster.api_server.empty());
  CHECK(in_cluster.bearer_token_file == kInClusterTokenFile);
  CHECK(in_cluster.tls_config.ca_file == kInClusterCaFile);
  CHECK(in_cluster.namespaces == std::vector<std::string>{"default", "payments"});
  const KubernetesSdConfig& remote = pods.kubernetes_sd_configs[1];
  CHECK(remote.api_server == "https://k8s.example.com:6443");
  CHECK(remote.bearer_token_file == "/etc/leakwatch/token");
  CHECK(remote.tls_config.ca_file == "/etc/leakwatch/k8s-ca.pem");
  CHECK(remote.tls_config.server_name == "kubernetes");
  CHECK(remote.namespaces == std::vector<std::string>{"kube-system"});
  const KubernetesSdConfig& proxy = pods.kubernetes_sd_configs[2];
  CHECK(proxy.api_server == "http://127.0.0.1:8001");
  CHECK(proxy.bearer_token_file.empty());
  CHECK(proxy.tls_config.ca_file.empty());
  CHECK(proxy.namespaces.empty());
}

namespace {

std::vector<StaticConfig> groups_of(const TargetFileResult& r) {
  const auto* ds = std::get_if<std::vector<Diagnostic>>(&r);
  INFO("diagnostics:" << (ds != nullptr ? render(*ds) : ""));
  REQUIRE(ds == nullptr);
  return std::get<std::vector<StaticConfig>>(r);
}

std::vector<std::string> errors_of(const TargetFileResult& r) {
  REQUIRE(std::holds_alternative<std::vector<Diagnostic>>(r));
  std::vector<std::string> out;
  for (const Diagnostic& d : std::get<std::vector<Diagnostic>>(r)) out.push_back(d.to_string());
  return out;
}

}  // namespace

TEST_CASE("file_sd target files: JSON and YAML lists of {targets, labels}", "[config]") {
  const std::string json = R"([
	{"targets": ["10.0.0.1:6060", "[::1]:6061"], "labels": {"team": "payments", "env": "prod"}},
	{"targets": ["10.0.0.2:6060"]}
])";
  const auto a = groups_of(load_target_groups(json, "a.json"));
  REQUIRE(a.size() == 2);
  CHECK(a[0].targets == std::vector<std::string>{"10.0.0.1:6060", "[::1]:6061"});
  CHECK(a[0].labels == std::map<std::string, std::string>{{"env", "prod"}, {"team", "payments"}});
  CHECK(a[1].targets == std::vector<std::string>{"10.0.0.2:6060"});
  CHECK(a[1].labels.empty());

  const auto b = groups_of(load_target_groups("- targets: [a:1]\n  labels: {x: y}\n- targets: []\n", "b.yml"));
  REQUIRE(b.size() == 2);
  CHECK(b[0].targets == std::vector<std::string>{"a:1"});
  CHECK(b[1].targets.empty());

  CHECK(groups_of(load_target_groups("", "empty.json")).empty());
  CHECK(groups_of(load_target_groups("[]", "empty.json")).empty());
}

TEST_CASE("file_sd target files: problems are reported with file, line and column", "[config]") {
  CHECK(errors_of(load_target_groups("{\"targets\": [\"a:1\"]}", "t.json")) ==
        std::vector<std::string>{"t.json:1:1: expected a list of {targets, labels} groups, got a mapping"});
  CHECK(errors_of(load_target_groups("[\n  {\"targets\": [\"a\"], \"labels\": {\"job\": \"x\"}}\n]", "t.json")) ==
        std::vector<std::string>{"t.json:2:16: [0]: target \"a\" has no port; write host:port, e.g. localhost:6060",
                                 "t.json:2:33: [0]: label name \"job\" is reserved; leakwatch or Prometheus sets it"});
  CHECK(errors_of(load_target_groups("- targets: [a:1]\n- targets: [A:1]\n  label: {}\n", "t.yml")) ==
        std::vector<std::string>{"t.yml:2:13: [1]: duplicate target \"A:1\" in this file; first listed at line 1, "
                                 "column 13",
                                 "t.yml:3:3: [1]: unknown key \"label\"; allowed: targets, labels"});
  const auto syntax = errors_of(load_target_groups("[{\"targets\": [\"a:1\"]", "t.json"));
  REQUIRE(syntax.size() == 1);
  CHECK_THAT(syntax[0], Catch::StartsWith("t.json:1:"));
  CHECK_THAT(syntax[0], Catch::Contains("YAML syntax error"));
  // yaml-cpp names the bad escape byte itself; a control byte there must not reach the log raw (fuzz finding).
  const auto escape = errors_of(load_target_groups("- targets: [\"\\\x1b[31m\"]\n", "t.yml"));
  REQUIRE(escape.size() == 1);
  CHECK_THAT(escape[0], Catch::EndsWith("YAML syntax error: unknown escape character: \\x1b"));
}

TEST_CASE("jobs inherit from global; an inherited timeout is capped at the job's interval", "[config]") {
  const LoadResult r = load_file(kDir + "inheritance.good.yml");
  const Config& c = loaded(r);
  CHECK(job(c, "inherits_all").scrape_interval == 30s);
  CHECK(job(c, "inherits_all").scrape_timeout == 20s);
  CHECK(job(c, "inherits_all").body_size_limit == 8ull << 20);

  CHECK(job(c, "short_interval").scrape_interval == 10s);
  CHECK(job(c, "short_interval").scrape_timeout == 10s);

  CHECK(job(c, "long_interval").scrape_interval == 2min);
  CHECK(job(c, "long_interval").scrape_timeout == 20s);

  CHECK(job(c, "own_timeout").scrape_interval == 30s);
  CHECK(job(c, "own_timeout").scrape_timeout == 5s);

  CHECK(job(c, "equal").scrape_interval == 90s);
  CHECK(job(c, "equal").scrape_timeout == 90s);
  CHECK(job(c, "equal").body_size_limit == 512ull << 10);
}

TEST_CASE("a global interval below the default timeout caps the timeout", "[config]") {
  const LoadResult r = load_file(kDir + "short_global_interval.good.yml");
  const Config& c = loaded(r);
  CHECK(c.global.scrape_interval == 5s);
  CHECK(c.global.scrape_timeout == 5s);
  CHECK(job(c, "app").scrape_interval == 5s);
  CHECK(job(c, "app").scrape_timeout == 5s);
}

TEST_CASE("targets and labels are kept as written", "[config]") {
  const LoadResult r = load_file(kDir + "targets_and_labels.good.yml");
  const Config& c = loaded(r);
  const ScrapeConfig& app = job(c, "app");
  REQUIRE(app.static_configs.size() == 4);
  CHECK(app.static_configs[0].targets == std::vector<std::string>{"localhost:1", "10.0.0.1:65535", "[::1]:6060",
                                                                  "[fe80::1%eth0]:6060",
                                                                  "my_service.default.svc:8080"});
  CHECK(app.static_configs[0].labels ==
        std::map<std::string, std::string>{{"_tier", "1"}, {"env", ""}, {"team", "payments"}});
  CHECK(app.static_configs[1].targets == std::vector<std::string>{"127.0.0.1:6060"});
  CHECK(app.static_configs[2].targets.empty());
  CHECK(app.static_configs[3].targets.empty());
  CHECK(job(c, "app_debug2").format == leakwatch::pprof::Format::debug2);
}

TEST_CASE("keys without a value keep their defaults", "[config]") {
  const LoadResult r = load_file(kDir + "nulls.good.yml");
  const Config& c = loaded(r);
  CHECK(c.global.scrape_interval == 15s);
  CHECK(job(c, "app").scheme == Scheme::http);
  CHECK(job(c, "app").static_configs.empty());
}

TEST_CASE("the same target differing only in case is a duplicate", "[config]") {
  const LoadResult r = load_string(
      "scrape_configs:\n"
      "  - job_name: app\n"
      "    static_configs: [{targets: [\"LocalHost:6060\", \"localhost:6060\"]}]\n",
      "inline.yml");
  const std::vector<Diagnostic>& ds = rejected(r);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].to_string() ==
        "inline.yml:3:51: job \"app\": static_configs[0]: duplicate target \"localhost:6060\" in this job; first "
        "listed at line 3, column 33");
}

TEST_CASE("load_file reports an unreadable file without a position", "[config]") {
  SECTION("missing") {
    const std::string path = kDir + "does_not_exist.yml";
    const LoadResult r = load_file(path);
    const std::vector<Diagnostic>& ds = rejected(r);
    REQUIRE(ds.size() == 1);
    CHECK(ds[0].file == path);
    CHECK(ds[0].line == 0);
    CHECK(ds[0].column == 0);
    CHECK(ds[0].message == "cannot read config file: No such file or directory");
    CHECK(ds[0].to_string() == path + ": cannot read config file: No such file or directory");
  }
  SECTION("a directory") {
    const LoadResult r = load_file(kDir);
    const std::vector<Diagnostic>& ds = rejected(r);
    REQUIRE(ds.size() == 1);
    CHECK(ds[0].line == 0);
    CHECK(ds[0].message == "cannot read config file: Is a directory");
  }
}

TEST_CASE("Loaded carries the sha256 of the bytes", "[config]") {
  const LoadResult empty = load_string("", "inline");
  REQUIRE(std::holds_alternative<Loaded>(empty));
  CHECK(std::get<Loaded>(empty).sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  const LoadResult braces = load_string("{}\n", "inline");
  REQUIRE(std::holds_alternative<Loaded>(braces));
  CHECK(std::get<Loaded>(braces).sha256 == "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356");

  // load_file hashes exactly the file's bytes, so it agrees with load_string on the same text.
  const std::string path = kDir + "full.good.yml";
  std::ifstream in(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const LoadResult a = load_file(path);
  const LoadResult b = load_string(bytes, path);
  REQUIRE(std::holds_alternative<Loaded>(a));
  REQUIRE(std::holds_alternative<Loaded>(b));
  CHECK(std::get<Loaded>(a).sha256 == std::get<Loaded>(b).sha256);
  CHECK(std::get<Loaded>(a).sha256.size() == 64);
  // A comment changes the bytes and so the checksum, though not the meaning.
  const LoadResult c = load_string(bytes + "# trailing comment\n", path);
  REQUIRE(std::holds_alternative<Loaded>(c));
  CHECK(std::get<Loaded>(c).sha256 != std::get<Loaded>(a).sha256);
}

TEST_CASE("no input makes load_string throw", "[config]") {
  const std::vector<std::string> inputs = {
      "\t",
      "[",
      "{a: [}",
      "&a [*a, *a]",
      "*undefined_alias",
      std::string("\xff\xfe\x00\x01", 4),
      std::string("global:\0\n", 9),
      "%YAML 9.9\n---\n{}",
      "? ? ?",
      "a: !!binary '%%%'",
      "global: !!int 15s",
      "scrape_configs: &j [{job_name: a, static_configs: *j}]",
      std::string(10000, '[') + std::string(10000, ']'),
      std::string(10000, '{'),
      "scrape_configs:\n" + std::string(5000, '-') + " x\n",
  };
  for (const std::string& in : inputs) {
    INFO(in.substr(0, 40));
    LoadResult r;
    REQUIRE_NOTHROW(r = load_string(in, "fuzz"));
    if (const auto* ds = std::get_if<std::vector<Diagnostic>>(&r)) CHECK_FALSE(ds->empty());
  }
}

TEST_CASE("the shipped configs are valid", "[config]") {
  const std::string root = LEAKWATCH_SOURCE_DIR;
  SECTION("config/leakwatch.yml polls 127.0.0.1:6060 as job app") {
    const LoadResult r = load_file(root + "/config/leakwatch.yml");
    const Config& c = loaded(r);
    REQUIRE(c.scrape_configs.size() == 1);
    CHECK(c.scrape_configs[0].job_name == "app");
    REQUIRE(c.scrape_configs[0].static_configs.size() == 1);
    CHECK(c.scrape_configs[0].static_configs[0].targets == std::vector<std::string>{"127.0.0.1:6060"});
  }
  SECTION("config/example.yml") { loaded(load_file(root + "/config/example.yml")); }
}

TEST_CASE("a relative ca_file is relative to the config file's directory", "[config]") {
  const auto dir = std::filesystem::temp_directory_path() / "leakwatch-config-test";
  std::filesystem::create_directories(dir / "sub");
  const auto path = (dir / "sub" / "leakwatch.yml").string();
  {
    std::ofstream out(path);
    out << "scrape_configs:\n"
           "  - job_name: rel\n    scheme: https\n    tls_config: {ca_file: certs/ca.pem}\n"
           "    static_configs: [{targets: [\"127.0.0.1:6060\"]}]\n"
           "  - job_name: abs\n    scheme: https\n    tls_config: {ca_file: /etc/ssl/ca.pem}\n"
           "    static_configs: [{targets: [\"127.0.0.1:6060\"]}]\n";
  }
  const LoadResult r = load_file(path);
  std::filesystem::remove_all(dir);
  const auto& cfg = *std::get<Loaded>(r).config;
  REQUIRE(cfg.scrape_configs.size() == 2);
  CHECK(cfg.scrape_configs[0].tls_config.ca_file == (dir / "sub" / "certs" / "ca.pem").string());
  CHECK(cfg.scrape_configs[1].tls_config.ca_file == "/etc/ssl/ca.pem");
  // load_string has no directory to resolve against and keeps the text as written.
  const LoadResult s = load_string(
      "scrape_configs: [{job_name: x, tls_config: {ca_file: ca.pem}, "
      "static_configs: [{targets: ['127.0.0.1:1']}]}]\n",
      "inline.yml");
  CHECK(std::get<Loaded>(s).config->scrape_configs[0].tls_config.ca_file == "ca.pem");
}

TEST_CASE("credentials to targets: basic_auth, authorization, client certificates and http_headers", "[config]") {
  const LoadResult r = load_file(kDir + "auth.good.yml");
  const Config& c = loaded(r);
  REQUIRE(c.scrape_configs.size() == 3);
  const ScrapeConfig& basic = c.scrape_configs[0];
  REQUIRE(basic.basic_auth.has_value());
  CHECK(basic.basic_auth->username == "leakwatch");
  CHECK(basic.basic_auth->password_file == kDir + "secrets/password");  // relative to the config file
  CHECK_FALSE(basic.authorization.has_value());
  const ScrapeConfig& bearer = c.scrape_configs[1];
  REQUIRE(bearer.authorization.has_value());
  CHECK(bearer.authorization->type == "Bearer");  // the default
  CHECK(bearer.authorization->credentials_file == "/var/run/secrets/token");
  CHECK(bearer.tls_config.ca_file == kDir + "ca.pem");
  CHECK(bearer.tls_config.cert_file == kDir + "client.pem");
  CHECK(bearer.tls_config.key_file == "/etc/leakwatch/client-key.pem");
  REQUIRE(bearer.http_headers.size() == 2);
  CHECK(bearer.http_headers.at("X-Scope-OrgID").values == std::vector<std::string>{"tenant-1"});
  CHECK(bearer.http_headers.at("X-Api-Key").secrets == std::vector<std::string>{"abc"});
  CHECK(bearer.http_headers.at("X-Api-Key").files == std::vector<std::string>{kDir + "secrets/api-key"});
  const ScrapeConfig& custom = c.scrape_configs[2];
  REQUIRE(custom.authorization.has_value());
  CHECK(custom.authorization->type == "Token");
  CHECK(custom.authorization->credentials == "inline-credentials");
}

TEST_CASE("no diagnostic repeats a secret", "[config]") {
  const LoadResult r = load_file(kDir + "auth_exclusive.bad.yml");
  const LoadResult h = load_file(kDir + "auth_tls_headers.bad.yml");
  for (const auto* result : {&r, &h}) {
    for (const Diagnostic& d : rejected(*result)) {
      CHECK(d.to_string().find("hunter2-inline") == std::string::npos);
      CHECK(d.to_string().find("tok-inline") == std::string::npos);
      CHECK(d.to_string().find("break-secret") == std::string::npos);
    }
  }
}
