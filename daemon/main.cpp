// leakwatch: flags, subcommands and the exit code. The daemon itself is wired up in serve.cpp.

#include "flags.hpp"
#include "serve.hpp"

#include "leakwatch/analyze/analyze.hpp"
#include "leakwatch/common/log.hpp"
#include "leakwatch/common/version.hpp"
#include "leakwatch/config/load.hpp"
#include "leakwatch/exporter/web_config_source.hpp"
#include "leakwatch/replay/replay.hpp"

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

namespace leakwatch::daemon {
namespace {

int check_config(const std::vector<std::string>& paths, const std::string& web_config_file) {
  int rc = 0;
  if (!web_config_file.empty()) {
    // The whole load, certificates and keys included, as the daemon would do it at start.
    auto web = exporter::load_web_security(web_config_file);
    if (!web) {
      std::cerr << web.error().message << '\n';
      rc = 1;
    } else {
      const config::WebConfig& c = *(*web)->config;
      std::cout << web_config_file << ": valid web config (" << (c.tls.enabled() ? "TLS" : "plain HTTP") << ", "
                << c.basic_auth_users.size() << " basic auth users"
                << (c.rate_limit_interval.count() > 0 ? ", rate limited" : "") << ")\n";
    }
  }
  for (const auto& path : paths) {
    auto loaded = config::load_file(path);
    if (auto* diags = std::get_if<std::vector<config::Diagnostic>>(&loaded)) {
      for (const auto& d : *diags) std::cerr << d.to_string() << '\n';
      rc = 1;
      continue;
    }
    const auto& cfg = *std::get<config::Loaded>(loaded).config;
    std::size_t targets = 0;
    std::size_t discovery = 0;
    for (const auto& job : cfg.scrape_configs) {
      for (const auto& group : job.static_configs) targets += group.targets.size();
      discovery += job.file_sd_configs.size() + job.kubernetes_sd_configs.size();
    }
    std::cout << path << ": valid (" << cfg.scrape_configs.size() << " scrape configs, " << targets
              << " static targets";
    if (discovery > 0) std::cout << ", " << discovery << " service discovery configs";
    std::cout << ")\n";
  }
  return rc;
}

int run_analyze(const Flags& flags) {
  analyze::Options options;
  options.source = flags.args.front();
  analyze::parse_format_option(flags.format, options.format);  // parse_flags checked the name
  options.json = flags.json;
  options.stacks = flags.stacks;
  options.color = !flags.json && ::isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
  return analyze::run(options, std::cin, std::cout, std::cerr);
}

int run_replay(const Flags& flags) {
  replay::Options options;
  options.dir = flags.args.front();
  options.target = flags.target;
  if (flags.config_file_given) options.config_file = flags.config_file;
  return replay::run(options, std::cout, std::cerr);
}

int run(int argc, char** argv) {
  auto flags = parse_flags(std::vector<std::string>(argv + 1, argv + argc));
  if (!flags) {
    std::cerr << "leakwatch: " << flags.error().message << "\n\n" << usage();
    return 2;
  }
  if (flags->help) {
    std::cout << usage();
    return 0;
  }
  if (flags->version) {
    std::cout << "leakwatch, version " << common::version() << " (revision: " << common::revision() << ")\n";
    return 0;
  }
  const auto level = common::parse_log_level(flags->log_level);
  const auto format = common::parse_log_format(flags->log_format);
  if (!level || !format) {
    std::cerr << "leakwatch: "
              << (!level ? "--log.level must be debug, info, warn or error" : "--log.format must be logfmt or json")
              << '\n';
    return 2;
  }
  common::setup_logging(*level, *format);
  if (flags->command == "check-config") return check_config(flags->args, flags->web_config_file);
  if (flags->command == "analyze") return run_analyze(*flags);
  if (flags->command == "replay") return run_replay(*flags);
  return serve(*flags);
}

}  // namespace
}  // namespace leakwatch::daemon

int main(int argc, char** argv) {
  try {
    return leakwatch::daemon::run(argc, argv);
  } catch (const std::exception& e) {
    // Only a bug gets here; say what it was rather than abort silently.
    std::cerr << "leakwatch: fatal: " << e.what() << '\n';
    return 1;
  }
}
