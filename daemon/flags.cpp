#include "flags.hpp"

#include <string_view>

namespace leakwatch::daemon {

std::optional<Flags> parse_flags(const std::vector<std::string>& argv, std::string& error) {
  Flags f;
  struct Valued {
    std::string_view name;
    std::string* target;
  };
  const Valued valued[] = {{"--config.file", &f.config_file},
                           {"--web.listen-address", &f.listen_address},
                           {"--log.level", &f.log_level},
                           {"--log.format", &f.log_format},
                           {"--format", &f.format},
                           {"--target", &f.target}};
  bool format_given = false;
  bool target_given = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "-h" || a == "--help") {
      f.help = true;
      continue;
    }
    if (a == "--version") {
      f.version = true;
      continue;
    }
    if (a == "--json" || a == "--stacks") {
      (a == "--json" ? f.json : f.stacks) = true;
      continue;
    }
    if (a.rfind("--", 0) == 0) {
      const auto eq = a.find('=');
      const std::string_view name = std::string_view(a).substr(0, eq);
      const Valued* match = nullptr;
      for (const auto& v : valued) {
        if (v.name == name) match = &v;
      }
      if (!match) {
        error = "unknown flag " + std::string(name);
        return std::nullopt;
      }
      if (match->target == &f.format) format_given = true;
      if (match->target == &f.target) target_given = true;
      if (match->target == &f.config_file) f.config_file_given = true;
      if (eq != std::string::npos) {
        *match->target = a.substr(eq + 1);
      } else if (i + 1 < argv.size()) {
        *match->target = argv[++i];
      } else {
        error = "flag " + std::string(name) + " needs a value";
        return std::nullopt;
      }
      continue;
    }
    if (f.command.empty() && f.args.empty()) {
      if (a != "check-config" && a != "analyze" && a != "replay") {
        error = "unknown command \"" + a + "\"";
        return std::nullopt;
      }
      f.command = a;
    } else {
      f.args.push_back(a);
    }
  }
  if (f.command == "check-config" && f.args.empty()) f.args.push_back(f.config_file);
  if (f.command == "analyze") {
    if (f.help) return f;
    if (f.args.size() != 1) {
      error = "analyze needs exactly one FILE, URL or -";
      return std::nullopt;
    }
    if (f.format != "auto" && f.format != "debug0" && f.format != "debug1" && f.format != "debug2") {
      error = "--format must be auto, debug0, debug1 or debug2";
      return std::nullopt;
    }
  } else if (format_given || f.json || f.stacks) {
    error = std::string(format_given ? "--format" : f.json ? "--json" : "--stacks") + " is a flag of analyze";
    return std::nullopt;
  }
  if (f.command == "replay") {
    if (f.help) return f;
    if (f.args.size() != 1) {
      error = "replay needs exactly one DIR";
      return std::nullopt;
    }
    if (target_given && f.target.empty()) {
      error = "--target must not be empty";
      return std::nullopt;
    }
  } else if (target_given) {
    error = "--target is a flag of replay";
    return std::nullopt;
  }
  return f;
}

std::string usage() {
  return R"(usage: leakwatch [flags]
       leakwatch check-config [PATH]
       leakwatch analyze FILE|URL|- [--format=FORMAT] [--json] [--stacks]
       leakwatch replay DIR [--config.file=PATH] [--target=NAME]

Polls Go services' goroutine profiles and exports goroutine counts and leak signals as Prometheus metrics.

Commands:
  (none)                      run the daemon
  check-config [PATH]         validate a config file (default: --config.file); exit 0 if valid, else 1
                              with every problem as file:line:column: message
  analyze FILE|URL|-          read one goroutine profile (a file, an http(s) URL, or - for stdin), group
                              its goroutines by stack signature and print them largest first: count,
                              state, longest wait (debug=2), leak site and signature; exit 1 on bad input.
                              A URL without a path asks /debug/pprof/goroutine, and without a debug
                              parameter gets debug=1 (or the --format's level)
  replay DIR                  feed saved profiles (<unix_ms>.txt, <unix_ms>.pb.gz) through the daemon's
                              parse-and-detect path in time order and print one JSON line per alert state
                              change; detection settings from --config.file when given (the job named
                              like the target, else global), else the defaults

Flags:
  --config.file=PATH          configuration file (default "config/leakwatch.yml")
  --web.listen-address=ADDR   address for /metrics, /-/healthy, /-/ready, /-/reload (default ":9863")
  --log.level=LEVEL           debug, info, warn or error (default "info")
  --log.format=FORMAT         logfmt or json (default "logfmt")
  --format=FORMAT             analyze: auto (detect), debug0, debug1 or debug2 (default "auto")
  --json                      analyze: print a JSON document instead of the table
  --stacks                    analyze: print every group's full stack under its row
  --target=NAME               replay: the target name in the output (default: DIR's base name)
  --version                   print the version and exit
  -h, --help                  print this help and exit
)";
}

}  // namespace leakwatch::daemon
