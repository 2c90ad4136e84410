// Real goroutineleak profiles (reference section 5) from real Go runtimes: tests/targets/leaky built with
// Go 1.26.8 + GOEXPERIMENT=goroutineleakprofile and with Go 1.27.3, recorded by
// scripts/capture-goroutineleak-testdata.sh (tests/testdata/pprof/README.md). In each process the script
// leaked 16 goroutines the runtime can prove stuck (chansend 5 + 2 labelled leak=tagged, chanrecv 4,
// select 3, mutex 2) and 4 it cannot (waitgroup 2, ctx 1, ticker 1: blocked on objects reachable from
// globals or the runtime's timers), then fetched goroutineleak?debug=1, goroutine?debug=1, goroutineleak
// ?debug=0 and ?debug=2, in that order.
//
// What the daemon relies on: after classify() and merge_by_signature(), every leaked group's signature is
// also a group of the ordinary goroutine profile of the same process, with at least as many goroutines,
// so the two profiles join by signature. Signatures hash the frames from the leak site outward and leave
// out runtime.* frames (signature.hpp), so debug=0, which keeps the leafward runtime frames debug=1
// hides, gives the same signatures, and so do the two Go versions, built from the same source.

#include "leakwatch/pprof/parser.hpp"
#include "leakwatch/pprof/signature.hpp"
#include "testdata.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

using namespace leakwatch::pprof;
using leakwatch::pprof::test::error_message;
using leakwatch::pprof::test::read_testdata;

namespace {

constexpr std::array<std::string_view, 2> kVersions{"go1.26.8", "go1.27.3"};
constexpr std::uint64_t kLeaked = 16;  // what the capture script leaked in proved kinds
// The leak profile's files per version, by suffix.
constexpr std::array<std::pair<std::string_view, Format>, 2> kLeakFiles{
    {{".debug1.txt", Format::debug1}, {".debug0.pb.gz", Format::debug0}}};

// Leak site -> goroutines, for the proved kinds; the leak profile must hold exactly these.
const std::map<std::string, std::uint64_t>& proved() {
  static const std::map<std::string, std::uint64_t> m{
      {"main.leakChanSend", 7}, {"main.leakChanRecv", 4}, {"main.leakSelect", 3}, {"main.leakMutex", 2}};
  return m;
}
// Leak site -> the leaked goroutines' debug=2 state once " (leaked)" is stripped.
const std::map<std::string, std::string>& proved_states() {
  static const std::map<std::string, std::string> m{{"main.leakChanSend", "chan send"},
                                                    {"main.leakChanRecv", "chan receive"},
                                                    {"main.leakSelect", "select"},
                                                    {"main.leakMutex", "sync.Mutex.Lock"}};
  return m;
}
// The kinds the runtime cannot prove: in the goroutine profile, never in the leak profile.
const std::map<std::string, std::uint64_t>& unproved() {
  static const std::map<std::string, std::uint64_t> m{
      {"main.leakWaitGroup", 2}, {"main.leakContext", 1}, {"main.leakTicker", 1}};
  return m;
}

std::string file(std::string_view profile, std::string_view version, std::string_view suffix) {
  return std::string(profile) + "-" + std::string(version) + std::string(suffix);
}

Profile parse_file(const std::string& name, Format format) {
  const std::string bytes = read_testdata(name);
  const auto detected = detect_format(bytes);
  REQUIRE(detected.has_value());
  REQUIRE(*detected == format);
  auto result = parse(bytes, format);
  if (!result.has_value()) {
    FAIL(name << ": " << error_message(result));
  }
  return std::move(*result);
}

Profile merged(Profile p) {
  classify(p);
  return merge_by_signature(std::move(p));
}

struct Group {
  std::uint64_t count = 0;
  std::string leak_site;
  WaitClass wait_class = WaitClass::unknown;
};

// signature -> group of a classified and merged profile. Groups without frames fail the test unless
// `frameless` is given, which then counts their goroutines.
std::map<std::uint64_t, Group> by_signature(const Profile& p, std::uint64_t* frameless = nullptr) {
  std::map<std::uint64_t, Group> out;
  for (const auto& g : p.groups) {
    if (g.frames.empty() && frameless != nullptr) {
      *frameless += g.count;
      continue;
    }
    REQUIRE(g.leak_site < g.frames.size());
    const auto [it, inserted] = out.emplace(g.signature,
                                            Group{g.count, std::string(g.frames[g.leak_site].function), g.wait_class});
    REQUIRE(inserted);  // merge_by_signature leaves one group per signature
  }
  return out;
}

// leak site -> goroutines.
std::map<std::string, std::uint64_t> by_leak_site(const std::map<std::uint64_t, Group>& groups) {
  std::map<std::string, std::uint64_t> out;
  for (const auto& [sig, g] : groups) out[g.leak_site] += g.count;
  return out;
}

std::uint64_t sum_of_groups(const Profile& p) {
  std::uint64_t sum = 0;
  for (const auto& g : p.groups) sum += g.count;
  return sum;
}

}  // namespace

TEST_CASE("real goroutineleak debug=1 and debug=0: kind, total, the leaks the script made", "[pprof][goroutineleak]") {
  for (const auto version : kVersions) {
    for (const auto& [suffix, format] : kLeakFiles) {
      const std::string name = file("goroutineleak", version, suffix);
      INFO(name);
      const Profile raw = parse_file(name, format);
      CHECK(raw.kind == ProfileKind::goroutineleak);
      CHECK_FALSE(raw.truncated());
      CHECK(raw.total == kLeaked);
      CHECK(sum_of_groups(raw) == raw.total);
      // chansend is two groups as printed: the same stack with and without the label leak=tagged.
      CHECK(raw.groups.size() == 5);
      std::uint64_t labelled = 0;
      for (const auto& g : raw.groups) {
        if (!g.labels.empty()) {
          CHECK(g.labels == Labels{{"leak", "tagged"}});
          labelled += g.count;
        }
      }
      CHECK(labelled == 2);

      const Profile m = merged(raw);
      CHECK(m.total == kLeaked);
      CHECK(sum_of_groups(m) == kLeaked);
      const auto groups = by_signature(m);
      CHECK(groups.size() == proved().size());
      CHECK(by_leak_site(groups) == proved());
      for (const auto& [sig, g] : groups) {
        INFO(g.leak_site);
        if (format == Format::debug0) {
          // debug=0 keeps the leafward runtime frames, so every class is known.
          const WaitClass want = g.leak_site == "main.leakChanSend"   ? WaitClass::chan_send
                                 : g.leak_site == "main.leakChanRecv" ? WaitClass::chan_receive
                                 : g.leak_site == "main.leakSelect"   ? WaitClass::select
                                                                      : WaitClass::sync;
          CHECK(g.wait_class == want);
        } else if (g.leak_site == "main.leakMutex") {
          // debug=1 hides runtime.*, but internal/sync.runtime_SemacquireMutex stays visible.
          CHECK(g.wait_class == WaitClass::sync);
        }
      }
    }
  }
}

TEST_CASE("real goroutineleak: every leaked signature joins the goroutine profile of the same process",
          "[pprof][goroutineleak]") {
  for (const auto version : kVersions) {
    INFO(version);
    const Profile leak = merged(parse_file(file("goroutineleak", version, ".debug1.txt"), Format::debug1));
    const Profile all = merged(parse_file(file("goroutine", version, ".debug1.txt"), Format::debug1));
    CHECK(all.kind == ProfileKind::goroutine);
    CHECK(sum_of_groups(all) == all.total);
    CHECK(all.total > leak.total);

    const auto leaked = by_signature(leak);
    // A goroutine created but not yet started is printed "1 @ 0x<runtime.goexit>" with no frame line at
    // all (printStackRecord never shows runtime.goexit): net/http's background read of the request that
    // fetched the profile, sometimes caught that early (Go 1.27.3 fixture). It is no leak and has nothing
    // to join on.
    std::uint64_t frameless = 0;
    const auto everything = by_signature(all, &frameless);
    CHECK(frameless <= 1);
    REQUIRE(leaked.size() == proved().size());
    for (const auto& [sig, g] : leaked) {
      INFO("signature " << signature_hex(sig) << " leak site " << g.leak_site);
      const auto it = everything.find(sig);
      REQUIRE(it != everything.end());
      CHECK(it->second.leak_site == g.leak_site);
      CHECK(it->second.count >= g.count);
      // Nothing but the leaked goroutines parks in the leak functions, and nothing moved in between.
      CHECK(it->second.count == g.count);
    }

    // The kinds the runtime cannot prove are in the goroutine profile only.
    const auto all_sites = by_leak_site(everything);
    const auto leak_sites = by_leak_site(leaked);
    for (const auto& [site, count] : unproved()) {
      INFO(site);
      CHECK(all_sites.count(site) == 1);
      if (all_sites.count(site) == 1) CHECK(all_sites.at(site) == count);
      CHECK(leak_sites.count(site) == 0);
    }
  }
}

TEST_CASE("real goroutineleak: debug=0, debug=1 and both Go versions give the same signatures",
          "[pprof][goroutineleak]") {
  std::map<std::uint64_t, std::uint64_t> first;  // signature -> count, of the first file read
  for (const auto version : kVersions) {
    for (const auto& [suffix, format] : kLeakFiles) {
      const std::string name = file("goroutineleak", version, suffix);
      INFO(name);
      std::map<std::uint64_t, std::uint64_t> counts;
      for (const auto& [sig, g] : by_signature(merged(parse_file(name, format)))) counts.emplace(sig, g.count);
      REQUIRE(counts.size() == proved().size());
      if (first.empty()) {
        first = counts;
      } else {
        CHECK(counts == first);
      }
    }
  }
}

TEST_CASE("real goroutineleak debug=2: all goroutines, the leaked ones' states without the (leaked) marker",
          "[pprof][goroutineleak]") {
  for (const auto version : kVersions) {
    const std::string name = file("goroutineleak", version, ".debug2.txt");
    INFO(name);
    // debug=2 is the full runtime.Stack dump: its text does not say which profile it came from.
    const Profile dump = merged(parse_file(name, Format::debug2));
    const Profile leak = merged(parse_file(file("goroutineleak", version, ".debug1.txt"), Format::debug1));
    CHECK(dump.total > leak.total);
    std::map<std::uint64_t, const StackGroup*> dump_groups;
    for (const auto& g : dump.groups) dump_groups.emplace(g.signature, &g);
    REQUIRE(leak.groups.size() == proved_states().size());
    for (const auto& g : leak.groups) {
      const std::string site(g.frames[g.leak_site].function);
      INFO(site);
      const auto it = dump_groups.find(g.signature);
      REQUIRE(it != dump_groups.end());
      CHECK(it->second->count == g.count);
      REQUIRE(it->second->states.size() == 1);
      REQUIRE(proved_states().count(site) == 1);
      CHECK(it->second->states[0].state == proved_states().at(site));
    }
  }
}

TEST_CASE("real goroutineleak: a process that leaked nothing gives total 0", "[pprof][goroutineleak]") {
  for (const auto version : kVersions) {
    const std::string name = file("goroutineleak", version, "-none.debug1.txt");
    INFO(name);
    const Profile p = parse_file(name, Format::debug1);
    CHECK(p.kind == ProfileKind::goroutineleak);
    CHECK(p.total == 0);
    CHECK(p.groups.empty());
    CHECK_FALSE(p.truncated());
  }
}
