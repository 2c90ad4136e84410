#pragma once
// Command-line flags, Prometheus style: --name=value or --name value, plus a leading subcommand.

#include "leakwatch/common/error.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leakwatch::daemon {

struct Flags {
  std::string command;            // "" (run the daemon), "check-config", "analyze", "replay"
  std::vector<std::string> args;  // the subcommand's positional arguments
  std::string config_file = "config/leakwatch.yml";
  bool config_file_given = false;  // replay uses a config only when told to
  std::string listen_address = ":9863";
  bool enable_lifecycle = false;   // POST /-/reload
  std::string web_config_file;     // exporter-toolkit web config; empty: plain HTTP, no authentication
  unsigned max_connections = 512;  // --web.max-connections
  std::string log_level = "info";
  std::string log_format = "logfmt";
  // Sharding (daemon only): poll only the targets whose hash falls in shard `shard_index` of `shard_total`.
  unsigned shard_total = 1;
  std::optional<unsigned> shard_index;  // unset: 0, or the StatefulSet ordinal (see resolve_shard_index)
  // analyze only
  std::string format = "auto";  // auto, debug0, debug1, debug2
  bool json = false;
  bool stacks = false;
  // replay only
  std::string target;  // empty: the directory's base name
  bool help = false;
  bool version = false;
};

// The parsed command line; Errc::invalid with the reason when it is wrong (an unknown flag or command, a
// flag of another command, a missing or malformed value, the wrong number of arguments).
common::Result<Flags> parse_flags(const std::vector<std::string>& argv);

// The shard index to use: --shard.index if given; else, with --shard.total > 1, the ordinal at the end of
// `hostname` ("leakwatch-2" -> 2, as a StatefulSet names its pods); else 0. Errc::invalid when there is no
// index to use or it is not below --shard.total.
common::Result<unsigned> resolve_shard_index(const Flags& flags, std::string_view hostname);

std::string usage();

}  // namespace leakwatch::daemon
