#include "flags.hpp"

#include "leakwatch/discovery/shard.hpp"
#include "leakwatch/pprof/profile.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>

namespace leakwatch::daemon {
namespace {

using common::Error;
using common::Result;

constexpr unsigned kMaxShards = 65'535;
constexpr unsigned kMaxConnections = 65'535;

// The commands, as bits, so each flag can say which of them take it.
enum Command : unsigned { kDaemon = 1, kCheckConfig = 2, kAnalyze = 4, kReplay = 8 };

struct CommandInfo {
  std::string_view name;  // "" is the daemon
  Command bit;
};
constexpr CommandInfo kCommands[] = {
    {"", kDaemon}, {"check-config", kCheckConfig}, {"analyze", kAnalyze}, {"replay", kReplay}};

// Every flag: its name, whether it takes a value, and the commands it belongs to. A flag given to a command
// it does not belong to is an error naming its command, so a typo'd command line never silently does less.
struct FlagSpec {
  std::string_view name;
  bool takes_value;
  unsigned commands;
  std::string_view owner;  // how the error names the commands that take it
};
constexpr unsigned kAny = kDaemon | kCheckConfig | kAnalyze | kReplay;
constexpr FlagSpec kFlags[] = {
    {"--config.file", true, kDaemon | kCheckConfig | kReplay, "the daemon, check-config and replay"},
    {"--web.listen-address", true, kDaemon, "the daemon"},
    {"--web.enable-lifecycle", false, kDaemon, "the daemon"},
    {"--web.config.file", true, kDaemon | kCheckConfig, "the daemon and check-config"},
    {"--web.max-connections", true, kDaemon, "the daemon"},
    {"--log.level", true, kAny, ""},
    {"--log.format", true, kAny, ""},
    {"--shard.total", true, kDaemon, "the daemon"},
    {"--shard.index", true, kDaemon, "the daemon"},
    {"--format", true, kAnalyze, "analyze"},
    {"--json", false, kAnalyze, "analyze"},
    {"--stacks", false, kAnalyze, "analyze"},
    {"--target", true, kReplay, "replay"},
    {"--version", false, kAny, ""},
    {"--help", false, kAny, ""},
    {"-h", false, kAny, ""},
};

const FlagSpec* find_flag(std::string_view name) {
  for (const auto& f : kFlags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

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

std::string below_total(std::string_view index, unsigned total) {
  return "--shard.index=" + std::string(index) + " must be below --shard.total=" + std::to_string(total) +
         " (shards are numbered from 0)";
}

// Stores one flag's value into `f`.
Result<void> apply(Flags& f, std::string_view name, const std::string& value) {
  if (name == "--config.file") {
    f.config_file = value;
    f.config_file_given = true;
  } else if (name == "--web.listen-address") {
    f.listen_address = value;
  } else if (name == "--log.level") {
    f.log_level = value;
  } else if (name == "--log.format") {
    f.log_format = value;
  } else if (name == "--shard.total") {
    const auto n = parse_count(value, 1, kMaxShards);
    if (!n) {
      return Error("--shard.total must be a whole number from 1 to " + std::to_string(kMaxShards) + ", got \"" + value +
                   "\"");
    }
    f.shard_total = *n;
  } else if (name == "--shard.index") {
    f.shard_index = parse_count(value, 0, kMaxShards - 1);
    if (!f.shard_index) {
      return Error("--shard.index must be a whole number from 0 to --shard.total - 1, got \"" + value + "\"");
    }
  } else if (name == "--format") {
    // The one table of format names (pprof/profile.hpp), plus analyze's "auto".
    if (value != "auto" && !pprof::parse_format_name(value)) {
      std::string names = "auto";
      for (const auto& info : pprof::kFormats) names += ", " + std::string(info.name);
      return Error("--format must be one of " + names + ", got \"" + value + "\"");
    }
    f.format = value;
  } else if (name == "--target") {
    if (value.empty()) return Error("--target must not be empty");
    f.target = value;
  } else if (name == "--web.config.file") {
    if (value.empty()) return Error("--web.config.file must not be empty");
    f.web_config_file = value;
  } else if (name == "--web.max-connections") {
    const auto n = parse_count(value, 1, kMaxConnections);
    if (!n) {
      return Error("--web.max-connections must be a whole number from 1 to " + std::to_string(kMaxConnections) +
                   ", got \"" + value + "\"");
    }
    f.max_connections = *n;
  } else if (name == "--web.enable-lifecycle") {
    f.enable_lifecycle = true;
  } else if (name == "--json") {
    f.json = true;
  } else if (name == "--stacks") {
    f.stacks = true;
  } else if (name == "--version") {
    f.version = true;
  } else if (name == "--help" || name == "-h") {
    f.help = true;
  }
  return {};
}

}  // namespace

Result<unsigned> resolve_shard_index(const Flags& flags, std::string_view hostname) {
  const unsigned total = flags.shard_total;
  if (flags.shard_index) {
    if (*flags.shard_index < total) return *flags.shard_index;
    return Error(below_total(std::to_string(*flags.shard_index), total));
  }
  if (total <= 1) return 0u;
  const std::optional<unsigned> ordinal = discovery::ordinal_from_hostname(hostname);
  if (!ordinal) {
    return Error("--shard.total=" + std::to_string(total) + " needs --shard.index, or a hostname ending in " +
                 "-<ordinal> as a StatefulSet's pods have; the hostname is \"" + std::string(hostname) + "\"");
  }
  if (*ordinal >= total) {
    return Error("the hostname's ordinal " + std::to_string(*ordinal) + " (\"" + std::string(hostname) +
                 "\") must be below --shard.total=" + std::to_string(total) + "; set --shard.index or --shard.total");
  }
  return *ordinal;
}

Result<Flags> parse_flags(const std::vector<std::string>& argv) {
  Flags f;
  // First pass: the command (the first word that is not a flag or a flag's value), so that every flag can
  // be checked against it wherever it appears.
  unsigned command = kDaemon;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.starts_with("-")) {
      const auto* spec = find_flag(std::string_view(a).substr(0, a.find('=')));
      if (spec != nullptr && spec->takes_value && a.find('=') == std::string::npos) ++i;
      continue;
    }
    const auto* c = std::find_if(std::begin(kCommands), std::end(kCommands),
                                 [&](const CommandInfo& info) { return !info.name.empty() && info.name == a; });
    if (c == std::end(kCommands)) return Error("unknown command \"" + a + "\"");
    f.command = a;
    command = c->bit;
    break;
  }

  bool command_seen = false;
  std::string shard_index_text;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (!a.starts_with("-") || a == "-") {
      if (!command_seen && a == f.command) {
        command_seen = true;
      } else {
        f.args.push_back(a);
      }
      continue;
    }
    const auto eq = a.find('=');
    const std::string_view name = std::string_view(a).substr(0, eq);
    const auto* spec = find_flag(name);
    if (spec == nullptr) return Error("unknown flag " + std::string(name));
    if ((spec->commands & command) == 0) {
      return Error(std::string(name) + " is a flag of " + std::string(spec->owner) +
                   (f.command.empty() ? ", not of the daemon" : ", not of " + f.command));
    }
    std::string value;
    if (spec->takes_value) {
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        return Error("flag " + std::string(name) + " needs a value");
      }
    } else if (eq != std::string::npos) {
      return Error("flag " + std::string(name) + " takes no value");
    }
    if (name == "--shard.index") shard_index_text = value;
    if (auto ok = apply(f, name, value); !ok) return ok.error();
  }
  if (f.shard_index && *f.shard_index >= f.shard_total) return Error(below_total(shard_index_text, f.shard_total));
  if (f.help || f.version) return f;

  switch (command) {
    case kCheckConfig:
      // `check-config --web.config.file=web.yml` alone checks only the web config.
      if (f.args.empty() && (f.config_file_given || f.web_config_file.empty())) f.args.push_back(f.config_file);
      break;
    case kAnalyze:
      if (f.args.size() != 1) return Error("analyze needs exactly one FILE, URL or -");
      break;
    case kReplay:
      if (f.args.size() != 1) return Error("replay needs exactly one DIR");
      break;
    default:
      if (!f.args.empty()) return Error("unexpected argument \"" + f.args.front() + "\" (the daemon takes none)");
  }
  return f;
}

std::string usage() {
  return R"(usage: leakwatch [flags]
       leakwatch check-config [PATH...] [--web.config.file=PATH]
       leakwatch analyze FILE|URL|- [--format=FORMAT] [--json] [--stacks]
       leakwatch replay DIR [--config.file=PATH] [--target=NAME]

Polls Go services' goroutine profiles and exports goroutine counts and leak signals as Prometheus metrics.

Commands:
  (none)                      run the daemon
  check-config [PATH...]      validate config files (default: --config.file) and, when given, the web config
                              with its certificates; exit 0 if valid, else 1 with every problem as
                              file:line:column: message
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
  --web.config.file=PATH      TLS, basic authentication and response headers for that port, in the format of
                              Prometheus' exporter-toolkit; re-read when it changes (default: none, plain HTTP)
  --web.max-connections=N     connections open at once on that port (default 512); at the limit a new one
                              displaces the one quiet longest (idle, or trickling its request), or is refused
  --web.enable-lifecycle      accept POST /-/reload (as Prometheus: off by default, so that anyone who can
                              reach the port cannot make the daemon re-read its config; SIGHUP always can)
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
