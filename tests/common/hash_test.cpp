#include "leakwatch/common/hash.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace leakwatch::common;

TEST_CASE("FNV-1a matches the published test vectors", "[common]") {
  // From the FNV reference test suite (fnv1a64 of "", "a", "foobar").
  CHECK(fnv1a("") == 0xcbf29ce484222325ull);
  CHECK(fnv1a("a") == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a("foobar") == 0x85944171f73967e8ull);
}

TEST_CASE("stable_hash spreads similar keys over the low bits", "[common]") {
  // Schedule offsets use hash % interval: neighbouring ports must not land in neighbouring slots.
  std::set<std::uint64_t> buckets;
  for (int port = 6000; port < 6100; ++port) {
    buckets.insert(stable_hash("127.0.0.1:" + std::to_string(port)) % 100);
  }
  CHECK(buckets.size() > 50);  // 100 keys into 100 buckets: ~63 distinct expected for a good hash
}
