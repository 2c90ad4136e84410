#include "flags.hpp"

#include "leakwatch/discovery/shard.hpp"

#include <string_view>

namespace leakwatch::daemon {
namespace {

constexpr unsigned kMaxShards = 65'535;

// A whole number in [min, max], digits only.
std::optional<unsigned> parse_count(std::string_view text, unsigned min, unsigned max) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  if (n < min || n > max) return std::nullopt;
  return n;
}

}  // namespace

std::optional<unsigned> resolve_shard_index(const Flags& flags, std::string_view hostname, std::string& error) {
  const unsigned total = flags.shard_total;
  if (flags.shard_index) {
    if (*flags.shard_index < total) return flags.shard_index;
    error = "--shard.index=" + std::to_string(*flags.shard_index) +
            " must be below --shard.total=" + std::to_string(total) + " (shards are numbered from 0)";
    return std::nullopt;
  }
  if (total <= 1) return 0u;
  const std::optional<unsigned> ordinal = discovery::ordinal_from_hostname(hostname);
  if (!ordinal) {
    error = "--shard.total=" + std::to_string(total) + " needs --shard.index, or a hostname ending in -<ordinal> " +
            "as a StatefulSet's pods have; the hostname is \"" + std::string(hostname) + "\"";
    return std::nullopt;
  }
  if (*ordinal >= total) {
    error = "the hostname's ordinal " + std::to_string(*ordinal) + " (\"" + std::string(hostname) +
            "\") must be below --shard.total=" + std::to_string(total) + "; set --shard.index or --shard.total";
    return std::nullopt;
  }
  return ordinal;
}

std::optional<Flags> parse_flags(const std::vector<std::string>& argv, std::string& error) {
  Flags f;
  std::string shard_total;
  std::string shard_index;
  struct Valued {
    std::string_view name;
    std::string* target;
  };
  const Valued valued[] = {{"--config.file", &f.config_file}, {"--web.listen-address", &f.listen_address},
                           {"--log.level", &f.log_level},     {"--log.format", &f.log_format},
                           {"--format", &f.format},           {"--target", &f.target},
                           {"--shard.total", &shard_total},   {"--shard.index", &shard_index}};
  bool format_given = false;
  bool target_given = false;
  bool shard_total_given = false;
  bool shard_index_given = false;
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
      if (match->target == &shard_total) shard_total_given = true;
      if (match->target == &shard_index) shard_index_given = true;
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
  if (shard_total_given) {
    const std::optional<unsigned> n = parse_count(shard_total, 1, kMaxShards);
    if (!n) {
      error = "--shard.total must be a whole number from 1 to " + std::to_string(kMaxShards) + ", got \"" +
              shard_total + "\"";
      return std::nullopt;
    }
    f.shard_total = *n;
  }
  if (shard_index_given) {
    f.shard_index = parse_count(shard_index, 0, kMaxShards - 1);
    if (!f.shard_index) {
      error = "--shard.index must be a whole number from 0 to --shard.total - 1, got \"" + shard_index + "\"";
      return std::nullopt;
    }
    if (*f.shard_index >= f.shard_total) {
      error = "--shard.index=" + shard_index + " must be below --shard.total=" + std::to_string(f.shard_total) +
              " (shards are numbered from 0)";
      return std::nullopt;
    }
  }
  if ((shard_total_given || shard_index_given) && !f.command.empty()) {
    error = "--shard.total and --shard.index are flags of the daemon, not of " + f.command;
    return std::nullopt;
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
  --shard.total=N             run as one of N replicas that split the targets between them by a stable
                              hash of job and target (default 1: poll every target)
  --shard.index=I             this replica's shard, 0..N-1 (default: the ordinal at the end of the
                              hostname, as in a StatefulSet pod "leakwatch-2", when N > 1; else 0)
  --format=FORMAT             analyze: auto (detect), debug0, debug1 or debug2 (default "auto")
  --json                      analyze: print a JSON document instead of the table
  --stacks                    analyze: print every group's full stack under its row
  --target=NAME               replay: the target name in the output (default: DIR's base name)
  --version                   print the version and exit
  -h, --help                  print this help and exit
)";
}

}  // namespace leakwatch::daemon
