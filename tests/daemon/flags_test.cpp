#include "flags.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using leakwatch::daemon::Flags;
using leakwatch::daemon::parse_flags;
using leakwatch::daemon::resolve_shard_index;

namespace {

Flags ok(std::vector<std::string> argv) {
  auto f = parse_flags(argv);
  INFO((f ? std::string() : f.error().message));
  REQUIRE(f.has_value());
  return *f;
}

std::string error_of(std::vector<std::string> argv) {
  auto f = parse_flags(argv);
  REQUIRE_FALSE(f.has_value());
  CHECK(f.error().code == leakwatch::common::Errc::invalid);
  return f.error().message;
}

}  // namespace

TEST_CASE("the daemon's flags, with = or as the next word", "[daemon][flags]") {
  const auto f = ok({"--config.file=/etc/lw.yml", "--web.listen-address", "127.0.0.1:1", "--log.level=debug",
                     "--log.format", "json", "--shard.total=4", "--shard.index=3"});
  CHECK(f.command.empty());
  CHECK(f.config_file == "/etc/lw.yml");
  CHECK(f.config_file_given);
  CHECK(f.listen_address == "127.0.0.1:1");
  CHECK(f.log_level == "debug");
  CHECK(f.log_format == "json");
  CHECK(f.shard_total == 4);
  CHECK(f.shard_index == 3u);
  const auto defaults = ok({});
  CHECK(defaults.config_file == "config/leakwatch.yml");
  CHECK_FALSE(defaults.config_file_given);
  CHECK(defaults.listen_address == ":9863");
}

TEST_CASE("subcommands take their own flags, in any position", "[daemon][flags]") {
  auto a = ok({"--stacks", "analyze", "dump.txt", "--format=debug2", "--json"});
  CHECK(a.command == "analyze");
  CHECK(a.args == std::vector<std::string>{"dump.txt"});
  CHECK(a.format == "debug2");
  CHECK(a.json);
  CHECK(a.stacks);
  CHECK(ok({"analyze", "-"}).args == std::vector<std::string>{"-"});  // stdin
  auto r = ok({"replay", "dir", "--target", "pod-1", "--config.file=x.yml"});
  CHECK(r.target == "pod-1");
  CHECK(r.config_file_given);
  CHECK(ok({"check-config"}).args == std::vector<std::string>{"config/leakwatch.yml"});
  CHECK(ok({"check-config", "a.yml", "b.yml"}).args == std::vector<std::string>{"a.yml", "b.yml"});
  // The web config alone, or beside the main config when that is asked for too.
  auto web = ok({"check-config", "--web.config.file=web.yml"});
  CHECK(web.args.empty());
  CHECK(web.web_config_file == "web.yml");
  CHECK(ok({"check-config", "--web.config.file=web.yml", "--config.file=c.yml"}).args ==
        std::vector<std::string>{"c.yml"});
  CHECK(ok({"--web.config.file", "web.yml"}).web_config_file == "web.yml");
  CHECK(error_of({"--web.config.file="}) == "--web.config.file must not be empty");
  CHECK(ok({}).max_connections == 512);
  CHECK(ok({"--web.max-connections=20000"}).max_connections == 20000);
  CHECK(error_of({"--web.max-connections=0"}).starts_with("--web.max-connections must be a whole number from 1"));
  CHECK(error_of({"--web.max-connections=99999"}).starts_with("--web.max-connections must be a whole number"));
  CHECK(error_of({"check-config", "--web.max-connections=5"}) ==
        "--web.max-connections is a flag of the daemon, not of check-config");
  CHECK(ok({"analyze", "--help"}).help);  // help needs no arguments
  CHECK(ok({"--version"}).version);
}

TEST_CASE("every format name comes from the one table", "[daemon][flags]") {
  for (const char* name : {"auto", "debug0", "debug1", "debug2"}) {
    CHECK(ok({"analyze", "x", std::string("--format=") + name}).format == name);
  }
  const auto e = error_of({"analyze", "x", "--format=debug3"});
  CHECK(e == "--format must be one of auto, debug0, debug1, debug2, got \"debug3\"");
}

TEST_CASE("wrong command lines are errors that say what is wrong", "[daemon][flags]") {
  CHECK(error_of({"--nope"}) == "unknown flag --nope");
  CHECK(error_of({"serve"}) == "unknown command \"serve\"");
  CHECK(error_of({"--config.file"}) == "flag --config.file needs a value");
  CHECK(error_of({"analyze", "x", "--json=yes"}) == "flag --json takes no value");
  CHECK(error_of({"--json"}) == "--json is a flag of analyze, not of the daemon");
  CHECK(error_of({"analyze", "x", "--target=t"}) == "--target is a flag of replay, not of analyze");
  CHECK(error_of({"replay", "d", "--shard.total=2"}) == "--shard.total is a flag of the daemon, not of replay");
  CHECK(error_of({"analyze", "x", "--web.listen-address=:1"}) ==
        "--web.listen-address is a flag of the daemon, not of analyze");
  CHECK(error_of({"analyze"}) == "analyze needs exactly one FILE, URL or -");
  CHECK(error_of({"analyze", "a", "b"}) == "analyze needs exactly one FILE, URL or -");
  CHECK(error_of({"replay"}) == "replay needs exactly one DIR");
  CHECK(error_of({"replay", "d", "--target="}) == "--target must not be empty");
  CHECK(error_of({"--shard.total=0"}).starts_with("--shard.total must be a whole number from 1 to 65535"));
  CHECK(error_of({"--shard.total=1x"}).starts_with("--shard.total must be a whole number"));
  CHECK(error_of({"--shard.index=-1"}).starts_with("--shard.index must be a whole number"));
  CHECK(error_of({"--shard.total=2", "--shard.index=2"}) ==
        "--shard.index=2 must be below --shard.total=2 (shards are numbered from 0)");
  // The order of the two does not matter.
  CHECK(error_of({"--shard.index=2", "--shard.total=2"}) ==
        "--shard.index=2 must be below --shard.total=2 (shards are numbered from 0)");
}

TEST_CASE("the shard index: the flag, else a StatefulSet ordinal, else 0", "[daemon][flags]") {
  CHECK(resolve_shard_index(ok({}), "anything").value() == 0u);
  CHECK(resolve_shard_index(ok({"--shard.total=3", "--shard.index=1"}), "leakwatch-2").value() == 1u);
  CHECK(resolve_shard_index(ok({"--shard.total=3"}), "leakwatch-2").value() == 2u);
  const auto no_ordinal = resolve_shard_index(ok({"--shard.total=3"}), "laptop");
  REQUIRE_FALSE(no_ordinal.has_value());
  CHECK(no_ordinal.error().message.find("needs --shard.index") != std::string::npos);
  const auto too_big = resolve_shard_index(ok({"--shard.total=3"}), "leakwatch-3");
  REQUIRE_FALSE(too_big.has_value());
  CHECK(too_big.error().message.find("must be below --shard.total=3") != std::string::npos);
}
