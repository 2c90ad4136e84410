#pragma once
// Command-line flags, Prometheus style: --name=value or --name value, plus a leading subcommand.

#include <optional>
#include <string>
#include <vector>

namespace leakwatch::daemon {

struct Flags {
  std::string command;  // "" (run the daemon), "check-config"
  std::vector<std::string> args;  // the subcommand's positional arguments
  std::string config_file = "config/leakwatch.yml";
  std::string listen_address = ":9863";
  std::string log_level = "info";
  std::string log_format = "logfmt";
  bool help = false;
  bool version = false;
};

// nullopt with `error` set when the command line is wrong.
std::optional<Flags> parse_flags(const std::vector<std::string>& argv, std::string& error);

std::string usage();

}  // namespace leakwatch::daemon
