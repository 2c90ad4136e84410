// The three real dumps of one process state (tests/testdata/pprof: patterns.debug0.pb.gz,
// patterns.debug1.txt, patterns.debug2.txt, Go 1.19.8) must tell the same story once classified and
// merged by signature: same total, same {signature: count, leak site}, compatible wait classes. This is
// what lets detection switch formats (or compare a debug=2 snapshot with debug=1 history) without seeing
// a "new" leak.
//
// The one justified exception: each dump was served by its own HTTP request, and net/http starts a
// background-read goroutine per request. It is a different goroutine in every dump, caught at a different
// point: inside the read syscall (or the netpoller, testdata README) in debug=0/1, just created and still
// runnable at startBackgroundRead.func2 in debug=2. Its group (one goroutine, leak site in net/http's
// connReader) is set aside before comparing. The profiler's own goroutine needs no exception: its leaf
// frames differ (writeRuntimeProfile vs writeGoroutineStacks) but they are plumbing, and the leak site
// (its entry function, net/http.(*conn).serve) and its callers are the same.

#include "leakwatch/pprof/parser.hpp"
#include "leakwatch/pprof/signature.hpp"
#include "testdata.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace leakwatch::pprof;
using leakwatch::pprof::test::error_message;
using leakwatch::pprof::test::read_testdata;

namespace {

struct Entry {
  std::uint64_t count = 0;
  NormalizedFrame leak_site;
  WaitClass wait_class = WaitClass::unknown;
};

struct Dump {
  std::string name;
  Profile profile;  // classified and merged
  std::map<std::uint64_t, Entry> by_signature;
  std::uint64_t set_aside = 0;  // goroutines of the per-request background read
};

Profile parse_file(const std::string& name, Format format) {
  auto result = parse(read_testdata(name), format);
  if (!result.has_value()) {
    FAIL(name << ": " << error_message(result));
  }
  return std::move(*result);
}

Dump load(const std::string& name, Format format) {
  Dump d;
  d.name = name;
  Profile p = parse_file(name, format);
  classify(p);
  d.profile = merge_by_signature(std::move(p));
  for (const auto& g : d.profile.groups) {
    REQUIRE(g.leak_site < g.frames.size());
    const NormalizedFrame site = normalize_frame(g.frames[g.leak_site]);
    if (site.function.starts_with("net/http.(*connReader).")) {
      d.set_aside += g.count;
      continue;
    }
    auto [it, inserted] = d.by_signature.emplace(g.signature, Entry{g.count, site, g.wait_class});
    REQUIRE(inserted);  // merge_by_signature left one group per signature
  }
  return d;
}

std::vector<Dump> load_all() {
  std::vector<Dump> dumps;
  dumps.push_back(load("patterns.debug0.pb.gz", Format::debug0));
  dumps.push_back(load("patterns.debug1.txt", Format::debug1));
  dumps.push_back(load("patterns.debug2.txt", Format::debug2));
  return dumps;
}

}  // namespace

TEST_CASE("agreement: debug0, debug1 and debug2 of one process have the same totals", "[pprof][signature]") {
  for (const auto& d : load_all()) {
    INFO(d.name);
    CHECK(d.profile.total == 63);
    CHECK_FALSE(d.profile.truncated());
    std::uint64_t sum = 0;
    for (const auto& g : d.profile.groups) sum += g.count;
    CHECK(sum == 63);
    CHECK(d.set_aside == 1);  // the background read of the request that fetched this dump
  }
}

TEST_CASE("agreement: the same signatures, counts and leak sites in every format", "[pprof][signature]") {
  const auto dumps = load_all();
  const Dump& reference = dumps[1];  // debug=1
  REQUIRE(reference.by_signature.size() == 19);
  for (const auto& d : dumps) {
    INFO(d.name);
    for (const auto& [sig, want] : reference.by_signature) {
      INFO("signature " << signature_hex(sig) << " leak site " << want.leak_site.function);
      const auto it = d.by_signature.find(sig);
      REQUIRE(it != d.by_signature.end());
      CHECK(it->second.count == want.count);
      CHECK(it->second.leak_site == want.leak_site);
    }
    CHECK(d.by_signature.size() == reference.by_signature.size());
  }
}

TEST_CASE("agreement: wait classes never contradict each other", "[pprof][signature]") {
  const auto dumps = load_all();
  const Dump& debug0 = dumps[0];
  for (const auto& [sig, e0] : debug0.by_signature) {
    INFO(e0.leak_site.function);
    // debug=0 keeps the leafward runtime frames: every parked goroutine's class is known from frames
    // alone. Only the profiler itself (running) has none.
    if (e0.leak_site.function != "net/http.(*conn).serve") CHECK(e0.wait_class != WaitClass::unknown);
    for (const auto& d : dumps) {
      const auto& other = d.by_signature.at(sig).wait_class;
      if (other != WaitClass::unknown && e0.wait_class != WaitClass::unknown) {
        INFO(d.name);
        CHECK(other == e0.wait_class);
      }
    }
  }
  // debug=2 knows every class too, from its states where the frames are silent.
  for (const auto& [sig, e2] : dumps[2].by_signature) {
    INFO(e2.leak_site.function);
    CHECK(e2.wait_class != WaitClass::unknown);
  }
}

TEST_CASE("agreement: stacks of different depth per format hash alike", "[pprof][signature]") {
  // main.deepRecursion(100): debug=0 keeps 32 PCs (3 runtime), debug=1 shows 29 frames, debug=2 97.
  std::vector<std::pair<std::size_t, std::uint64_t>> seen;
  for (const auto& d : load_all()) {
    for (const auto& g : d.profile.groups) {
      if (g.frames[g.leak_site].function == "main.deepRecursion") seen.emplace_back(g.frames.size(), g.signature);
    }
  }
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].first != seen[1].first);
  CHECK(seen[1].first != seen[2].first);
  CHECK(seen[0].second == seen[1].second);
  CHECK(seen[1].second == seen[2].second);
}
