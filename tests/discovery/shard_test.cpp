#include "leakwatch/discovery/shard.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace leakwatch::discovery;

namespace {

// Synthetic but realistic keys: jobs over many hosts and a few ports, like a fleet's pods.
std::vector<std::string> fleet(std::size_t n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  const char* jobs[] = {"payments", "search", "checkout", "worker pool (eu)"};
  for (std::size_t i = 0; i < n; ++i) {
    const std::string host = "10." + std::to_string((i / 65536) % 256) + "." + std::to_string((i / 256) % 256) + "." +
                             std::to_string(i % 256);
    keys.push_back(shard_key(jobs[i % 4], host + ":" + std::to_string(6060 + (i / 7) % 3)));
  }
  return keys;
}

}  // namespace

TEST_CASE("every target lands in exactly one shard, and shards are even", "[discovery]") {
  const std::vector<std::string> keys = fleet(10'000);
  for (unsigned total = 1; total <= 8; ++total) {
    DYNAMIC_SECTION("total " << total) {
      std::vector<std::size_t> count(total, 0);
      for (const std::string& key : keys) {
        unsigned owners = 0;
        for (unsigned index = 0; index < total; ++index) {
          if (in_shard(key, total, index)) {
            ++owners;
            ++count[index];
          }
        }
        REQUIRE(owners == 1);
        CHECK(shard_of(key, total) < total);
      }
      const double expected = static_cast<double>(keys.size()) / total;
      for (unsigned index = 0; index < total; ++index) {
        INFO("shard " << index << " of " << total << " has " << count[index] << ", expected " << expected);
        CHECK(static_cast<double>(count[index]) >= 0.9 * expected);
        CHECK(static_cast<double>(count[index]) <= 1.1 * expected);
      }
    }
  }
}

TEST_CASE("shard assignment is stable and depends on job and target", "[discovery]") {
  CHECK(shard_key("app", "127.0.0.1:6060") == "app/127.0.0.1:6060");
  // Fixed values: a change here would move every target of a running fleet to another replica.
  CHECK(shard_of("app/127.0.0.1:6060", 1) == 0);
  CHECK(shard_of("app/127.0.0.1:6060", 0) == 0);
  unsigned differs = 0;
  for (int port = 6000; port < 6100; ++port) {
    const std::string target = "127.0.0.1:" + std::to_string(port);
    CHECK(shard_of(shard_key("a", target), 4) == shard_of(shard_key("a", target), 4));
    if (shard_of(shard_key("a", target), 4) != shard_of(shard_key("b", target), 4)) ++differs;
  }
  CHECK(differs > 50);               // the job is part of the key: 3/4 expected
  CHECK_FALSE(in_shard("x", 2, 2));  // an index outside the range owns nothing
}

TEST_CASE("a StatefulSet pod's ordinal comes from its hostname", "[discovery]") {
  CHECK(ordinal_from_hostname("leakwatch-0") == 0u);
  CHECK(ordinal_from_hostname("leakwatch-2") == 2u);
  CHECK(ordinal_from_hostname("leak-watch-17") == 17u);
  CHECK_FALSE(ordinal_from_hostname("leakwatch").has_value());
  CHECK_FALSE(ordinal_from_hostname("leakwatch-").has_value());
  CHECK_FALSE(ordinal_from_hostname("-3").has_value());
  CHECK_FALSE(ordinal_from_hostname("leakwatch-7d9f8c-x2x4k").has_value());  // a Deployment's pod
  CHECK_FALSE(ordinal_from_hostname("leakwatch-12345678901").has_value());
  CHECK_FALSE(ordinal_from_hostname("").has_value());
}
