// parse_debug2 against the real Go 1.19 dump from tests/targets/patterns (patterns.debug2.txt, the same
// process state as patterns.debug1.txt; the frames asserted here are that program's lines), against
// hand-written samples of newer runtimes' output (docs/goroutine-profiles.md §3), and against cut and
// synthetic bodies.

#include "alloc_tracker.hpp"
#include "leakwatch/pprof/parser.hpp"
#include "testdata.hpp"

#include <catch2/catch.hpp>

#include <malloc.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace leakwatch::pprof;
using namespace std::string_literals;
using leakwatch::pprof::test::AllocationTracker;
using leakwatch::pprof::test::error_message;
using leakwatch::pprof::test::find_group;
using leakwatch::pprof::test::read_testdata;
using leakwatch::pprof::test::require_same;

namespace Catch {
template <>
struct StringMaker<leakwatch::pprof::StateCount> {
  static std::string convert(const leakwatch::pprof::StateCount& s) {
    return "{\"" + s.state + "\" x" + std::to_string(s.count) + "}";
  }
};
}  // namespace Catch

namespace {

constexpr std::string_view kMain = "leakwatch/targets/patterns/main.go";
const std::string kGoroot = "/usr/lib/go-1.19/src/";

Frame main_frame(std::string_view function, std::uint32_t line) { return Frame{test::kept(function), kMain, line}; }

Frame go_frame(std::string_view function, const std::string& file, std::uint32_t line) {
  return Frame{test::kept(function), test::kept(kGoroot + file), line};
}

Profile parse_ok(std::string_view bytes, const Limits& limits = {}) {
  auto result = parse_debug2(bytes, limits);
  if (!result.has_value()) {
    FAIL("unexpected error: " << error_message(result));
  }
  return std::move(*result);
}

std::string parse_error(std::string_view bytes, const Limits& limits = {}) {
  auto result = parse_debug2(bytes, limits);
  if (result.has_value()) {
    FAIL("expected an error, got a profile with " << result->groups.size() << " groups");
  }
  return error_message(result);
}

// The group that has a frame calling `function` (anywhere in the stack), for stacks whose leaf frames
// are shared plumbing (internal/poll.runtime_pollWait).
const StackGroup* find_group_with(const Profile& profile, std::string_view function) {
  for (const auto& group : profile.groups) {
    for (const auto& frame : group.frames) {
      if (frame.function == function) {
        return &group;
      }
    }
  }
  return nullptr;
}

WaitHistogram histogram(std::vector<std::pair<std::size_t, std::uint64_t>> buckets, std::uint32_t max) {
  WaitHistogram h;
  for (const auto& [bucket, count] : buckets) {
    h.counts.at(bucket) = count;
  }
  h.max_minutes = max;
  return h;
}

std::string crlf(std::string_view lf) {
  std::string out;
  for (const char c : lf) {
    if (c == '\n') {
      out += '\r';
    }
    out += c;
  }
  return out;
}

std::uint64_t sum_counts(const Profile& p) {
  std::uint64_t sum = 0;
  for (const auto& g : p.groups) {
    sum += g.count;
  }
  return sum;
}

}  // namespace

TEST_CASE("debug2: real dump totals, grouping and order", "[pprof]") {
  const Profile p = parse_ok(read_testdata("patterns.debug2.txt"));
  CHECK(p.kind == ProfileKind::goroutine);
  CHECK(p.truncation_reason.empty());
  // The same 63 goroutines as the debug=1 dump of the same process: both leave out system goroutines.
  CHECK(p.total == 63);
  const Profile d1 = parse_debug1(read_testdata("patterns.debug1.txt")).value();
  CHECK(p.total == d1.total);
  CHECK(sum_counts(p) == p.total);

  // 20 groups, not debug1's 23: Go 1.19 prints no labels in debug=2 headers, so the four label sets of
  // labeledWait are one group of 12 here; everything else groups alike.
  std::vector<std::pair<std::string, std::uint64_t>> order;
  for (const auto& g : p.groups) {
    REQUIRE_FALSE(g.frames.empty());
    order.emplace_back(g.frames.front().function, g.count);
    CHECK(g.labels.empty());
    CHECK(g.signature == 0);  // classify() is not the parser's job
  }
  // Most goroutines first, ties in order of first appearance (goroutine 81 is the dump's writer,
  // goroutine 1 main, goroutine 82 the HTTP connection's background read).
  const std::vector<std::pair<std::string, std::uint64_t>> expected{
      {"main.labeledWait.func1", 12},
      {"main.chanSend", 3},
      {"main.chanRecv", 3},
      {"main.selectTwo", 3},
      {"main.selectNoCases", 3},
      {"main.nilChanRecv", 3},
      {"sync.runtime_SemacquireMutex", 3},  // mutexLock
      {"sync.runtime_SemacquireMutex", 3},  // rwmutexRLock
      {"sync.runtime_SemacquireMutex", 3},  // rwmutexLock
      {"sync.runtime_Semacquire", 3},
      {"sync.runtime_notifyListWait", 3},
      {"time.Sleep", 3},
      {"internal/poll.runtime_pollWait", 3},  // ioRead
      {"main.deepRecursion", 3},
      {"main.recvInlined", 3},
      {"main.genericWait[...]", 3},
      {"main.startClosure.func1", 3},
      {"runtime/pprof.writeGoroutineStacks", 1},
      {"internal/poll.runtime_pollWait", 1},  // main
      {"net/http.(*connReader).startBackgroundRead.func2", 1},
  };
  CHECK(order == expected);
}

TEST_CASE("debug2: real dump frames, creators, states and minutes", "[pprof]") {
  const Profile p = parse_ok(read_testdata("patterns.debug2.txt"));
  const WaitHistogram three_fresh = histogram({{0, 3}}, 0);

  SECTION("one frame, a creator") {
    const StackGroup* g = find_group(p, "main.chanSend");
    REQUIRE(g != nullptr);
    CHECK(g->count == 3);
    CHECK(g->frames == std::vector<Frame>{main_frame("main.chanSend", 35)});
    REQUIRE(g->creator.has_value());
    CHECK(*g->creator == main_frame("main.start", 166));
    CHECK(g->states == std::vector<StateCount>{{"chan send", 3}});
    CHECK(g->wait_minutes == three_fresh);
  }
  SECTION("status with parentheses") {
    const StackGroup* g = find_group(p, "main.nilChanRecv");
    REQUIRE(g != nullptr);
    CHECK(g->states == std::vector<StateCount>{{"chan receive (nil chan)", 3}});
    CHECK(find_group(p, "main.selectNoCases")->states == std::vector<StateCount>{{"select (no cases)", 3}});
  }
  SECTION("leaf runtime-internal frames and an inlined (...) frame without +0x") {
    const StackGroup* g = find_group_with(p, "main.mutexLock");
    REQUIRE(g != nullptr);
    CHECK(g->frames == std::vector<Frame>{go_frame("sync.runtime_SemacquireMutex", "runtime/sema.go", 77),
                                          go_frame("sync.(*Mutex).lockSlow", "sync/mutex.go", 171),
                                          go_frame("sync.(*Mutex).Lock", "sync/mutex.go", 90),
                                          main_frame("main.mutexLock", 64)});
    CHECK(g->states == std::vector<StateCount>{{"semacquire", 3}});
    CHECK(*g->creator == main_frame("main.start", 171));

    const StackGroup* inl = find_group(p, "main.recvInlined");
    REQUIRE(inl != nullptr);
    CHECK(inl->frames == std::vector<Frame>{main_frame("main.recvInlined", 122), main_frame("main.inlineCaller", 127)});
    CHECK(*inl->creator == main_frame("main.start", 182));
  }
  SECTION("generic and closure names; a creator other than main.start") {
    CHECK(find_group(p, "main.genericWait[...]")->frames ==
          std::vector<Frame>{main_frame("main.genericWait[...]", 132)});
    const StackGroup* g = find_group(p, "main.startClosure.func1");
    REQUIRE(g != nullptr);
    CHECK(g->frames == std::vector<Frame>{main_frame("main.startClosure.func1", 138)});
    CHECK(*g->creator == main_frame("main.startClosure", 137));
  }
  SECTION("labelled goroutines group by stack: Go 1.19 prints no labels in debug=2") {
    const StackGroup* g = find_group(p, "main.labeledWait.func1");
    REQUIRE(g != nullptr);
    CHECK(g->count == 12);
    CHECK(g->frames == std::vector<Frame>{main_frame("main.labeledWait.func1", 106),
                                          go_frame("runtime/pprof.Do", "runtime/pprof/runtime.go", 40),
                                          main_frame("main.labeledWait", 105)});
    CHECK(g->labels.empty());
    CHECK(g->states == std::vector<StateCount>{{"chan receive", 12}});
    CHECK(g->wait_minutes == histogram({{0, 12}}, 0));
  }
  SECTION("Go 1.19 prints at most 100 frames, here 97 and no elision marker") {
    const StackGroup* g = find_group(p, "main.deepRecursion");
    REQUIRE(g != nullptr);
    REQUIRE(g->frames.size() == 97);
    CHECK(g->frames[0] == main_frame("main.deepRecursion", 113));
    for (std::size_t i = 1; i < g->frames.size(); ++i) {
      CHECK(g->frames[i] == main_frame("main.deepRecursion", 116));
    }
    CHECK(*g->creator == main_frame("main.start", 181));
  }
  SECTION("main goroutine: no creator, ends in main.main") {
    const StackGroup* g = find_group_with(p, "main.main");
    REQUIRE(g != nullptr);
    CHECK(g->count == 1);
    CHECK_FALSE(g->creator.has_value());
    REQUIRE(g->frames.size() == 10);
    CHECK(g->frames.front() == go_frame("internal/poll.runtime_pollWait", "runtime/netpoll.go", 305));
    CHECK(g->frames[8] == go_frame("net/http.Serve", "net/http/server.go", 2568));  // inlined
    CHECK(g->frames.back() == main_frame("main.main", 268));
    CHECK(g->states == std::vector<StateCount>{{"IO wait", 1}});
    CHECK(find_group_with(p, "main.ioRead")->count == 3);
  }
  SECTION("a printed runtime.goexit is dropped; a frame at its entry PC has no +0x") {
    const StackGroup* g = find_group(p, "net/http.(*connReader).startBackgroundRead.func2");
    REQUIRE(g != nullptr);
    CHECK(g->frames ==
          std::vector<Frame>{go_frame("net/http.(*connReader).startBackgroundRead.func2", "net/http/server.go", 674)});
    CHECK(*g->creator == go_frame("net/http.(*connReader).startBackgroundRead", "net/http/server.go", 674));
    CHECK(g->states == std::vector<StateCount>{{"runnable", 1}});
  }
  SECTION("the dump's writer") {
    const StackGroup* g = find_group(p, "runtime/pprof.writeGoroutineStacks");
    REQUIRE(g != nullptr);
    CHECK(g->states == std::vector<StateCount>{{"running", 1}});
    CHECK(g->frames.size() == 9);
    CHECK(*g->creator == go_frame("net/http.(*Server).Serve", "net/http/server.go", 3102));
  }
}

TEST_CASE("debug2: the real dump's stacks are debug1's stacks", "[pprof]") {
  // Both text formats hide the runtime's leaf frames and runtime.goexit, so the same goroutines mostly
  // give the same logical frames. The exceptions are known: the 32-PC cap of debug=1 on the recursion,
  // the writer (debug=1 was written by another function), the background read caught in a syscall for
  // debug=1 but not yet running for debug=2, and the main goroutine, whose outermost runtime.main
  // debug=1 prints and debug=2 hides.
  const Profile d1 = parse_debug1(read_testdata("patterns.debug1.txt")).value();
  const Profile d2 = parse_ok(read_testdata("patterns.debug2.txt"));
  std::vector<std::string> unmatched;
  for (const auto& g1 : d1.groups) {
    const bool found = std::any_of(d2.groups.begin(), d2.groups.end(),
                                   [&](const StackGroup& g2) { return g2.frames == g1.frames; });
    if (!found) {
      unmatched.push_back(std::string{g1.frames.front().function}.append(" .. ").append(g1.frames.back().function));
    }
  }
  std::sort(unmatched.begin(), unmatched.end());
  CHECK(unmatched == std::vector<std::string>{
                         "internal/poll.runtime_pollWait .. runtime.main",
                         "main.deepRecursion .. main.deepRecursion",
                         "runtime/pprof.runtime_goroutineProfileWithLabels .. net/http.(*conn).serve",
                         "syscall.Syscall .. net/http.(*connReader).backgroundRead",
                     });
  std::vector<Frame> main1 = find_group_with(d1, "main.main")->frames;
  REQUIRE(main1.back() == go_frame("runtime.main", "runtime/proc.go", 250));
  main1.pop_back();
  CHECK(find_group_with(d2, "main.main")->frames == main1);
}

TEST_CASE("debug2: goroutine IDs: a bounded, uniform sample per group", "[pprof]") {
  // Three goroutines on one stack and one on another, IDs out of order as the runtime's per-P batches
  // print them; a group this small keeps every ID.
  const std::string head = "goroutine ";
  const auto record = [&](std::uint64_t id, std::string_view fn) {
    return head + std::to_string(id) + " [sleep]:\ntime.Sleep(0x1)\n\t/go/src/runtime/time.go:338 +0x1\n" +
           std::string(fn) + "()\n\t/src/app/main.go:10 +0x25\ncreated by main.start\n\t/src/app/main.go:20 +0x2f\n\n";
  };
  const Profile p = parse_ok(record(40, "main.poll") + record(7, "main.poll") + record(1200, "main.other") +
                             record(52, "main.poll"));
  CHECK(p.max_goroutine_id == 1200);
  REQUIRE(p.groups.size() == 2);
  std::vector<std::uint64_t> ids = p.groups[0].goroutine_ids;
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::uint64_t>{7, 40, 52});
  CHECK(goroutines_at_or_below(p.groups[0], 40) == 2);
  CHECK(goroutines_at_or_below(p.groups[0], 6) == 0);
  CHECK(goroutines_at_or_below(p.groups[1], 1200) == 1);

  // A big group keeps kIdSample IDs, whatever order they come in, and estimates counts from them.
  StackGroup big;
  big.count = 100'000;
  for (std::uint64_t id = 1; id <= big.count; ++id) sample_goroutine_id(big.goroutine_ids, (id * 7919) % big.count + 1);
  CHECK(big.goroutine_ids.size() == kIdSample);
  CHECK(goroutines_at_or_below(big, 50'000) == Approx(50'000).epsilon(0.2));
  CHECK(goroutines_at_or_below(big, 100'000) == 100'000);
  StackGroup reversed;
  reversed.count = big.count;
  for (std::uint64_t id = big.count; id >= 1; --id) sample_goroutine_id(reversed.goroutine_ids, id);
  std::vector<std::uint64_t> a = big.goroutine_ids, b = reversed.goroutine_ids;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  CHECK(a == b);  // the same sample: it depends on the IDs, not their order
}

TEST_CASE("debug2: CRLF line endings parse like LF", "[pprof]") {
  const std::string lf = read_testdata("patterns.debug2.txt");
  const Profile a = parse_ok(lf);
  const Profile b = parse_ok(crlf(lf));
  require_same(b, a);
  for (std::size_t i = 0; i < a.groups.size(); ++i) {
    CHECK(b.groups[i].creator == a.groups[i].creator);
    CHECK(b.groups[i].states == a.groups[i].states);
  }
}

TEST_CASE("debug2: states, minutes and header suffixes", "[pprof]") {
  const Profile p = parse_ok(
      "goroutine 5 [chan receive, 1 minutes]:\n"
      "main.wait(0xc000010000?)\n"
      "\t/src/app/main.go:10 +0x25\n"
      "created by main.start\n"
      "\t/src/app/main.go:20 +0x2f\n"
      "\n"
      "goroutine 6 [chan receive]:\n"
      "main.wait(0xc000010001?)\n"
      "\t/src/app/main.go:10 +0x25\n"
      "created by main.other\n"  // same stack, another creator: the first one is kept
      "\t/src/app/main.go:30 +0x2f\n"
      "\n"
      "goroutine 7 [select, 61 minutes, locked to thread]:\n"
      "main.wait(0x0)\n"
      "\t/src/app/main.go:10 +0x25\n"
      "created by main.start\n"
      "\t/src/app/main.go:20 +0x2f\n"
      "\n"
      "goroutine 8 [chan receive (scan), 5000 minutes, locked to thread, synctest bubble 3]:\n"
      "main.wait(0x0)\n"
      "\t/src/app/main.go:10 +0x25\n"
      "created by main.start in goroutine 1\n"
      "\t/src/app/main.go:20 +0x2f\n"
      "\n"
      "goroutine 9 [chan receive, 99999999999999999999 minutes]:\n"
      "main.wait(0x0)\n"
      "\t/src/app/main.go:10 +0x25\n"
      "created by main.start\n"
      "\t/src/app/main.go:20 +0x2f\n"
      "\n"
      "goroutine 10 [sleep (durable), synctest bubble 12]:\n"
      "time.Sleep(0x3b9aca00)\n"
      "\t/usr/local/go/src/runtime/time.go:338 +0x165\n"
      "created by main.start in goroutine 1\n"
      "\t/src/app/main.go:21 +0x2f\n");
  CHECK(p.truncation_reason.empty());
  CHECK(p.total == 6);
  REQUIRE(p.groups.size() == 2);
  const StackGroup& g = p.groups[0];
  CHECK(g.count == 5);
  CHECK(g.frames == std::vector<Frame>{Frame{"main.wait", "/src/app/main.go", 10}});
  CHECK(*g.creator == Frame{"main.start", "/src/app/main.go", 20});
  // Most frequent first, ties by first appearance.
  CHECK(g.states == std::vector<StateCount>{{"chan receive", 4}, {"select", 1}});
  // 0, 1, 61, 5000 and a saturated count of minutes: buckets <=0, <=1, <=240, >1440 (two).
  CHECK(g.wait_minutes == histogram({{0, 1}, {1, 1}, {5, 1}, {7, 2}}, 0xffffffffu));
  CHECK(p.groups[1].states == std::vector<StateCount>{{"sleep", 1}});
  CHECK(p.groups[1].frames.front().function == "time.Sleep");
}

TEST_CASE("debug2: (leaked) marker of a goroutineleak dump", "[pprof]") {
  // Go 1.26+/tip output as quoted in docs/goroutine-profiles.md §3: -trimpath paths, "in goroutine N".
  const Profile p = parse_ok(
      "goroutine 1 [running]:\n"
      "main.main()\n"
      "\tex/t31prof2.go:30 +0x120\n"
      "\n"
      "goroutine 7 [chan send (leaked)]:\n"
      "main.sendNoRecv.func1()\n"
      "\tex/t31prof2.go:12 +0x2c\n"
      "created by main.sendNoRecv in goroutine 1\n"
      "\tex/t31prof2.go:11 +0x67\n"
      "\n"
      "goroutine 8 [chan send]:\n"
      "main.sendNoRecv.func1()\n"
      "\tex/t31prof2.go:12 +0x2c\n"
      "created by main.sendNoRecv in goroutine 1\n"
      "\tex/t31prof2.go:11 +0x67\n");
  CHECK(p.kind == ProfileKind::goroutine);
  CHECK(p.total == 3);
  const StackGroup* g = find_group(p, "main.sendNoRecv.func1");
  REQUIRE(g != nullptr);
  CHECK(g->count == 2);
  CHECK(g->states == std::vector<StateCount>{{"chan send", 2}});  // markers stripped
  CHECK(*g->creator == Frame{"main.sendNoRecv", "ex/t31prof2.go", 11});
  CHECK(p.groups[0].count == 2);
  CHECK(p.groups[1].frames == std::vector<Frame>{Frame{"main.main", "ex/t31prof2.go", 30}});
}

TEST_CASE("debug2: Go 1.27 header labels", "[pprof]") {
  // runtime.goroutineheader (tip): sorted by key, bare when [A-Za-z0-9./_]*, else printquoted.
  const std::string body =
      "goroutine 18 [running] {pattern: \"GET /panic\"}:\n"
      "main.handler({0x7f3cea5a20, 0xc0001}, 0x0?)\n"
      "\t/src/app/main.go:40 +0x25\n"
      "created by net/http.(*Server).Serve in goroutine 1\n"
      "\t/usr/local/go/src/net/http/server.go:3454 +0x485\n"
      "\n"
      "goroutine 20 [chan receive] {job: ingest, tenant: acme}:\n"
      "main.worker(...)\n"
      "\t/src/app/main.go:50\n"
      "main.run(0x0?)\n"
      "\t/src/app/main.go:60 +0x25\n"
      "created by main.start in goroutine 1\n"
      "\t/src/app/main.go:70 +0x2f\n"
      "\n"
      "goroutine 21 [chan receive] {job: ingest, tenant: acme}:\n"
      "main.worker(...)\n"
      "\t/src/app/main.go:50\n"
      "main.run(0x0?)\n"
      "\t/src/app/main.go:60 +0x25\n"
      "created by main.start in goroutine 1\n"
      "\t/src/app/main.go:70 +0x2f\n"
      "\n"
      "goroutine 22 [chan receive] {job: export, tenant: acme}:\n"
      "main.worker(...)\n"
      "\t/src/app/main.go:50\n"
      "main.run(0x0?)\n"
      "\t/src/app/main.go:60 +0x25\n"
      "created by main.start in goroutine 1\n"
      "\t/src/app/main.go:70 +0x2f\n"
      "\n"
      "goroutine 23 [chan receive] {\"a, b: {c}\": \"q\\\"uo\\\\te\\n\\r\\t\", empty: , "
      "uni: \"\\u00e9\\U0001f642\\xff\\x01\"}:\n"
      "main.worker(...)\n"
      "\t/src/app/main.go:50\n"
      "main.run(0x0?)\n"
      "\t/src/app/main.go:60 +0x25\n"
      "created by main.start in goroutine 1\n"
      "\t/src/app/main.go:70 +0x2f\n"
      "\n"
      "goroutine 24 [chan receive] {z: 1, a: 2}:\n"  // not sorted: the model sorts
      "main.worker(...)\n"
      "\t/src/app/main.go:50\n"
      "main.run(0x0?)\n"
      "\t/src/app/main.go:60 +0x25\n"
      "created by main.start in goroutine 1\n"
      "\t/src/app/main.go:70 +0x2f\n";
  const Profile p = parse_ok(body);
  CHECK(p.total == 6);
  REQUIRE(p.groups.size() == 5);

  const Labels get{{"pattern", "GET /panic"}};
  const Labels ingest{{"job", "ingest"}, {"tenant", "acme"}};
  const Labels exporter{{"job", "export"}, {"tenant", "acme"}};
  const Labels odd{{"a, b: {c}", "q\"uo\\te\n\r\t"}, {"empty", ""}, {"uni", "\xc3\xa9\xf0\x9f\x99\x82\xff\x01"}};
  const Labels resorted{{"a", "2"}, {"z", "1"}};

  const StackGroup* g = find_group(p, "main.worker", &ingest);
  REQUIRE(g != nullptr);
  CHECK(g->count == 2);
  CHECK(p.groups[0].labels == ingest);  // the only group of two
  CHECK(g->frames ==
        std::vector<Frame>{Frame{"main.worker", "/src/app/main.go", 50}, Frame{"main.run", "/src/app/main.go", 60}});
  CHECK(find_group(p, "main.handler", &get) != nullptr);
  CHECK(find_group(p, "main.worker", &exporter)->count == 1);
  CHECK(find_group(p, "main.worker", &odd)->count == 1);
  CHECK(find_group(p, "main.worker", &resorted)->count == 1);

  SECTION("malformed labels are errors naming the line") {
    CHECK(parse_error("goroutine 1 [running] {k: \"unterminated}:\nmain.main()\n\tm.go:1 +0x1\n") ==
          "line 1: bad labels: unterminated quoted string");
    CHECK(parse_error("goroutine 1 [running] {k: \"\\q\"}:\nmain.main()\n\tm.go:1 +0x1\n") ==
          "line 1: bad labels: unknown escape");
    CHECK(parse_error("goroutine 1 [running] {k: \"\\ud800\"}:\nmain.main()\n\tm.go:1 +0x1\n") ==
          "line 1: bad labels: invalid \\u or \\U escape");
    CHECK(parse_error("goroutine 1 [running] {k v}:\nmain.main()\n\tm.go:1 +0x1\n") ==
          "line 1: bad labels: expected ': ' after a label key");
    CHECK(parse_error("goroutine 1 [running] {k: v,}:\nmain.main()\n\tm.go:1 +0x1\n") ==
          "line 1: bad labels: trailing ',' in labels");
    CHECK(parse_error("goroutine 1 [running] k: v:\nmain.main()\n\tm.go:1 +0x1\n")
              .starts_with("line 1: expected 'goroutine <id> [<status>] {<key>: <value>, ...}:', got "));
  }
}

TEST_CASE("debug2: crash-style records, elisions, ancestors and cgo frames", "[pprof]") {
  const std::string body =
      // GOTRACEBACK=system or a fatal error: gp/m in the header, registers after the offsets.
      "goroutine 33 gp=0x14000003dc0 m=nil [sync.WaitGroup.Wait]:\n"
      "runtime.gopark(0x1400011e0a8?, 0x0?, 0x0?, 0x0?, 0x0?)\n"
      "\t/usr/local/go/src/runtime/proc.go:435 +0xc8 fp=0x1400011dd60 sp=0x1400011dd40 pc=0x10487ed18\n"
      "sync.(*WaitGroup).Wait(0x1400011e0a0)\n"
      "\t/usr/local/go/src/sync/waitgroup.go:118 +0x74 fp=0x1400011dd90 sp=0x1400011dd60 pc=0x1048a5d04\n"
      "main.waiter(...)\n"
      "\tC:/Program Files/My App: v2/main.go:12\n"  // inlined: no +0x, no registers
      "main.run()\n"
      "\tC:/Program Files/My App: v2/main.go:20 +0x30 fp=0x1400011dfd0 sp=0x1400011dd90 pc=0x1048c0030\n"
      "runtime.goexit({})\n"
      "\t/usr/local/go/src/runtime/asm_arm64.s:1223 +0x4 fp=0x1400011dfd0 sp=0x1400011dfd0 pc=0x104885c04\n"
      "created by main.main in goroutine 1\n"
      "\tC:/Program Files/My App: v2/main.go:30 +0x58\n"
      "\n"
      "goroutine 1 gp=0xc000002380 m=0 mp=0x5c1f00 [running]:\n"
      "\tgoroutine running on other thread; stack unavailable\n"
      "\n"
      // Tip: 50 innermost frames, a marker, 50 outermost; 1.20 and older: "...additional frames elided...".
      "goroutine 40 [chan receive, 3 minutes]:\n"
      "main.deep(0x0?)\n"
      "\t/src/app/main.go:5 +0x27\n"
      "...7 frames elided...\n"
      "main.deep(0x0?)\n"
      "\t/src/app/main.go:6 +0x3b\n"
      "...additional frames elided...\n"
      "created by main.start in goroutine 1\n"
      "\t/src/app/main.go:9 +0x4d1\n"
      "[originating from goroutine 1]:\n"
      "main.start(...)\n"
      "\t/src/app/main.go:8 +0x1\n"
      "main.main(...)\n"
      "\t/src/app/main.go:3 +0x2\n"
      "[originating from goroutine 0]:\n"
      "runtime.main(...)\n"
      "\t/usr/local/go/src/runtime/proc.go:283 +0x3\n"
      "\n"
      "goroutine 41 [syscall]:\n"
      "non-Go function at pc=0x7f2a1b2c3d4e\n"
      "non-Go function at pc=0x7f2a1b2c3d00\n"
      "runtime.cgocall(0x4a5f10, 0xc000051f60)\n"
      "\t/usr/local/go/src/runtime/cgocall.go:167 +0x4b\n"
      "main._Cfunc_block()\n"
      "\t_cgo_gotypes.go:40 +0x45\n"
      "panic({0x4b2a40?, 0xc000012345?})\n"
      "\t/usr/local/go/src/runtime/panic.go:770 +0x132\n"
      "created by main.main in goroutine 1\n"
      "\t/src/app/main.go:31 +0x60\n";
  const Profile p = parse_ok(body);
  CHECK(p.truncation_reason.empty());
  CHECK(p.total == 4);
  REQUIRE(p.groups.size() == 4);

  const std::string win = "C:/Program Files/My App: v2/main.go";
  CHECK(p.groups[0].frames ==
        std::vector<Frame>{Frame{"runtime.gopark", "/usr/local/go/src/runtime/proc.go", 435},
                           Frame{"sync.(*WaitGroup).Wait", "/usr/local/go/src/sync/waitgroup.go", 118},
                           Frame{"main.waiter", win, 12}, Frame{"main.run", win, 20}});
  CHECK(*p.groups[0].creator == Frame{"main.main", win, 30});
  CHECK(p.groups[0].states == std::vector<StateCount>{{"sync.WaitGroup.Wait", 1}});

  CHECK(p.groups[1].frames.empty());
  CHECK_FALSE(p.groups[1].creator.has_value());
  CHECK(p.groups[1].states == std::vector<StateCount>{{"running", 1}});

  // Frames on both sides of the markers are kept; ancestors are not part of the stack.
  CHECK(p.groups[2].frames ==
        std::vector<Frame>{Frame{"main.deep", "/src/app/main.go", 5}, Frame{"main.deep", "/src/app/main.go", 6}});
  CHECK(*p.groups[2].creator == Frame{"main.start", "/src/app/main.go", 9});
  CHECK(p.groups[2].wait_minutes == histogram({{2, 1}}, 3));

  CHECK(p.groups[3].frames == std::vector<Frame>{Frame{kUnknownFunction, "", 0}, Frame{kUnknownFunction, "", 0},
                                                 Frame{"runtime.cgocall", "/usr/local/go/src/runtime/cgocall.go", 167},
                                                 Frame{"main._Cfunc_block", "_cgo_gotypes.go", 40},
                                                 Frame{"runtime.gopanic", "/usr/local/go/src/runtime/panic.go", 770}});

  SECTION("the crash-only record can end the dump") {
    const Profile q = parse_ok(
        "goroutine 1 gp=0xc000002380 m=0 mp=0x5c1f00 [running]:\n"
        "\tgoroutine running on other thread; stack unavailable\n");
    CHECK(q.total == 1);
    CHECK(q.truncation_reason.empty());
  }
}

TEST_CASE("debug2: limits", "[pprof]") {
  const std::string real = read_testdata("patterns.debug2.txt");

  SECTION("max_frames_per_stack keeps the leaf-most frames and says so once") {
    Limits limits;
    limits.max_frames_per_stack = 3;
    const Profile p = parse_ok(real, limits);
    CHECK(p.total == 63);
    // Stacks that differ only beyond the kept frames merge: mutexLock with rwmutexLock (both end in
    // runtime_SemacquireMutex, lockSlow, Lock), ioRead with main (runtime_pollWait, wait, waitRead).
    CHECK(p.groups.size() == 18);
    CHECK(find_group_with(p, "sync.(*Mutex).Lock")->count == 6);
    CHECK(find_group(p, "internal/poll.runtime_pollWait")->count == 4);
    for (const auto& g : p.groups) {
      CHECK(g.frames.size() <= 3);
    }
    const StackGroup* g = find_group(p, "main.deepRecursion");
    REQUIRE(g != nullptr);
    CHECK(g->frames == std::vector<Frame>{main_frame("main.deepRecursion", 113), main_frame("main.deepRecursion", 116),
                                          main_frame("main.deepRecursion", 116)});
    // The writer (goroutine 81, 9 frames, line 1) is the first too-deep record.
    CHECK(p.truncation_reason ==
          "the goroutine record at line 1 has more than max_frames_per_stack (3) frames; kept the leaf-most "
          "ones");
  }
  SECTION("a runtime.goexit just past max_frames_per_stack is no truncation") {
    Limits limits;
    limits.max_frames_per_stack = 1;
    const Profile p = parse_ok(
        "goroutine 5 [runnable]:\n"
        "main.f()\n\t/src/m.go:1\n"
        "runtime.goexit({})\n\t/go/src/runtime/asm_amd64.s:1594 +0x1\n"
        "created by main.main\n\t/src/m.go:9 +0x1\n",
        limits);
    CHECK(p.truncation_reason.empty());
    CHECK(p.groups.at(0).frames == std::vector<Frame>{Frame{"main.f", "/src/m.go", 1}});
  }
  SECTION("max_groups stops the parse") {
    Limits limits;
    limits.max_groups = 2;
    const Profile p = parse_ok(real, limits);
    // Goroutine 81 (the writer) and 1 (main) start the two groups; goroutine 21 would start a third.
    REQUIRE(p.groups.size() == 2);
    CHECK(p.total == 2);
    CHECK(p.groups[0].frames.front().function == "runtime/pprof.writeGoroutineStacks");
    CHECK(p.groups[1].frames.back().function == "main.main");
    CHECK(p.truncation_reason ==
          "stopped at max_groups (2): the goroutine record at line 45 and any after it were not read");

    limits.max_groups = 0;
    const Profile none = parse_ok(real, limits);
    CHECK(none.groups.empty());
    CHECK(none.total == 0);
    CHECK(none.truncation_reason ==
          "stopped at max_groups (0): the goroutine record at line 1 and any after it were not read");
  }
  SECTION("max_line_bytes") {
    Limits limits;
    limits.max_line_bytes = 100;  // the longest line of the real dump
    CHECK(parse_ok(real, limits).total == 63);
    limits.max_line_bytes = 99;
    CHECK(parse_error(real, limits) == "line 8: longer than max_line_bytes (99)");
    const std::string huge = "goroutine 1 [running]:\n" + std::string(5000, 'x');
    limits.max_line_bytes = 1000;
    CHECK(parse_error(huge, limits) == "line 2: longer than max_line_bytes (1000)");
  }
}

TEST_CASE("debug2: malformed bodies name the line", "[pprof]") {
  CHECK(parse_error("") == "line 1: empty body, expected 'goroutine <id> [<status>]:'");
  CHECK(parse_error(read_testdata("empty.txt")) == "line 1: empty body, expected 'goroutine <id> [<status>]:'");
  CHECK(parse_error("\n\n\n") == "line 3: no goroutine record, expected 'goroutine <id> [<status>]:'");
  CHECK(parse_error(read_testdata("garbage.txt")).starts_with("line 1: expected 'goroutine <id> [<status>]:', got \""));
  CHECK(parse_error("Bad Gateway") == "line 1: expected 'goroutine <id> [<status>]:', got \"Bad Gateway\"");
  CHECK(parse_error(read_testdata("patterns.debug1.txt")) ==
        "line 1: expected 'goroutine <id> [<status>]:', got \"goroutine profile: total 63\"");
  CHECK(parse_error("goroutine x [running]:\n") ==
        "line 1: expected 'goroutine <id> [<status>]:', got \"goroutine x [running]:\"");
  CHECK(parse_error("goroutine 1 [running:\n").starts_with("line 1: expected 'goroutine <id> [<status>]:'"));
  CHECK(parse_error("goroutine 1 [running]\nmain.main()\n")
            .starts_with("line 1: expected 'goroutine <id> [<status>]:'"));
  CHECK(parse_error("goroutine 1 junk [running]:\n").starts_with("line 1: expected 'goroutine <id> [<status>]:'"));
  CHECK(parse_error("goroutine 1 [, 3 minutes]:\nmain.main()\n\tm.go:1\n") ==
        "line 1: expected a status in 'goroutine <id> [<status>]:', got \"goroutine 1 [, 3 minutes]:\"");
  CHECK(parse_error("goroutine 1 [running]:\nmain.main\n\tm.go:1\n")
            .starts_with("line 2: expected a frame '<function>(<args>)', 'created by <function>' or the blank line "
                         "ending the goroutine record at line 1, got \"main.main\""));
  CHECK(parse_error("goroutine 1 [running]:\nmain.main()\nmain.f()\n") ==
        "line 3: expected '\\t<file>:<line>[ +0x<offset>]', got \"main.f()\"");
  CHECK(parse_error("goroutine 1 [running]:\nmain.main()\n\tm.go +0x1\n") ==
        "line 3: expected '\\t<file>:<line>[ +0x<offset>]', got \"\\tm.go +0x1\"");
  CHECK(parse_error("goroutine 1 [running]:\nmain.main()\n\tm.go:12x\n").starts_with("line 3: expected '\\t<file>"));
  CHECK(parse_error("goroutine 1 [running]:\nmain.main()\n\tm.go:99999999999\n").starts_with("line 3: expected"));
  CHECK(parse_error("goroutine 1 [running]:\n\tm.go:1 +0x1\n") ==
        "line 2: expected a function line '<function>(<args>)' before this location line, got \"\\tm.go:1 "
        "+0x1\"");
  CHECK(parse_error("goroutine 2 [running]:\nmain.f()\n\tm.go:1 +0x1\ncreated by main.main\n\tm.go:2 +0x1\n"
                    "main.g()\n\tm.go:3 +0x1\n")
            .starts_with("line 6: expected the blank line ending the goroutine record at line 1 or "
                         "'[originating from goroutine <id>]:'"));
  CHECK(parse_error("goroutine 2 [running]:\nmain.f()\n\tm.go:1 +0x1\ncreated by \n\tm.go:2 +0x1\n")
            .starts_with("line 4: expected a frame"));  // "created by" without a name is no creator
  CHECK(parse_error("goroutine 2 [running]:\nmain.f()\n\tm.go:1 +0x1\ncreated by  in goroutine 1\n\tm.go:2 +0x1\n")
            .starts_with("line 4: expected 'created by <function>'"));
  // Records must be separated by blank lines.
  CHECK(parse_error("goroutine 1 [running]:\nmain.main()\n\tm.go:1 +0x1\ngoroutine 2 [running]:\n")
            .starts_with("line 4: expected a frame"));
  // An error after good records is still an error.
  const std::string real = read_testdata("patterns.debug2.txt");
  CHECK(parse_error(real + "\n<html>\n") == "line 1163: expected 'goroutine <id> [<status>]:', got \"<html>\"");
}

TEST_CASE("debug2: a body cut anywhere keeps exactly the complete records", "[pprof]") {
  // Four records; the first and the last end the two ways records end (main.main, "created by").
  const std::string body =
      "goroutine 1 [chan receive, 2 minutes]:\n"
      "main.helper(...)\n"
      "\t/src/app/main.go:44\n"
      "main.main()\n"
      "\t/src/app/main.go:50 +0x1d\n"
      "\n"
      "goroutine 7 [chan send] {job: a}:\n"
      "main.producer(0xc000010000?)\n"
      "\t/src/app/main.go:28 +0x25\n"
      "created by main.main in goroutine 1\n"
      "\t/src/app/main.go:49 +0x5b2\n"
      "\n"
      "goroutine 8 [chan send] {job: a}:\n"
      "main.producer(0xc000010001?)\n"
      "\t/src/app/main.go:28 +0x25\n"
      "created by main.main in goroutine 1\n"
      "\t/src/app/main.go:49 +0x5b2\n"
      "[originating from goroutine 1]:\n"
      "main.main(...)\n"
      "\t/src/app/main.go:49 +0x5b2\n"
      "\n"
      "goroutine 9 [select]:\n"
      "main.consumer(0x0?)\n"
      "\t/src/app/main.go:61 +0x48\n"
      "created by main.main in goroutine 1\n"
      "\t/src/app/main.go:52 +0x29b\n";
  const Profile full = parse_ok(body);
  REQUIRE(full.total == 4);
  REQUIRE(full.groups.size() == 3);

  // Where each record starts, and where its stack and creator end (just after the '\n' of its last
  // location line; record 3's ancestor block after that is not part of the model).
  std::vector<std::size_t> starts;
  std::vector<std::size_t> ends;
  for (std::size_t pos = body.find("goroutine "); pos != std::string::npos; pos = body.find("\n\ngoroutine ", pos)) {
    starts.push_back(pos == 0 ? 0 : pos + 2);
    pos += 2;
  }
  REQUIRE(starts.size() == 4);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const std::size_t stop = i + 1 < starts.size() ? starts[i + 1] : body.size();
    const std::string_view record = std::string_view(body).substr(starts[i], stop - starts[i]);
    const std::size_t created = record.find("created by ");
    const std::size_t from = created == std::string_view::npos ? record.rfind("main.main()") : created;
    ends.push_back(starts[i] + record.find('\n', record.find('\n', from) + 1) + 1);
  }
  CHECK(ends[2] + 76 == starts[3]);  // the ancestor block and the blank line

  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    INFO("cut at byte " << cut << " of " << body.size());
    const std::string_view prefix = std::string_view(body).substr(0, cut);
    // The partial last line, if any: blanks alone are not a cut (they could be a trailing "\r").
    const std::string_view tail = prefix.substr(prefix.rfind('\n') == std::string_view::npos ? 0
                                                                                             : prefix.rfind('\n') + 1);
    const bool partial = tail.find_first_not_of(" \t") != std::string_view::npos;
    std::uint64_t complete = 0;
    bool inside = false;  // the cut loses part of a record: its stack or creator, or a partial line
    for (std::size_t i = 0; i < ends.size(); ++i) {
      complete += ends[i] <= cut ? 1 : 0;
      const std::size_t stop = i + 1 < starts.size() ? starts[i + 1] - 1 : body.size();
      inside = inside || (starts[i] < cut && cut < ends[i]) || (ends[i] < cut && cut < stop && partial);
    }
    auto result = parse_debug2(prefix);
    if (complete == 0) {
      REQUIRE_FALSE(result.has_value());
      continue;
    }
    REQUIRE(result.has_value());
    const Profile& p = *result;
    CHECK(p.total == complete);
    CHECK(sum_counts(p) == complete);
    CHECK(p.truncated() == inside);
    if (inside) {
      CHECK(p.truncation_reason.starts_with("body ends inside the goroutine record starting at line "));
    }
    // Every group is one of the full parse's, with its frames, labels and creator whole.
    for (const auto& g : p.groups) {
      const auto same = std::find_if(full.groups.begin(), full.groups.end(), [&](const StackGroup& f) {
        return f.frames == g.frames && f.labels == g.labels && f.creator == g.creator;
      });
      REQUIRE(same != full.groups.end());
      CHECK(g.count <= same->count);
    }
  }
}

TEST_CASE("debug2: the real dump cut at every line and at many bytes", "[pprof]") {
  const std::string body = read_testdata("patterns.debug2.txt");
  const Profile full = parse_ok(body);
  std::vector<std::size_t> cuts;
  for (std::size_t pos = 0; pos < body.size(); ++pos) {
    if (body[pos] == '\n' || pos % 97 == 0) {
      cuts.push_back(pos);
      cuts.push_back(pos + 1);
    }
  }
  std::uint64_t previous_total = 0;
  for (const std::size_t cut : cuts) {
    INFO("cut at byte " << cut);
    auto result = parse_debug2(std::string_view(body).substr(0, cut));
    if (!result.has_value()) {
      // Only while the first record (the writer, up to its "created by" location) is incomplete.
      CHECK(cut <= body.find("\n\n"));
      if (cut > 0) {
        CHECK(error_message(result).find("body ends inside the first goroutine record") != std::string::npos);
      }
      continue;
    }
    const Profile& p = *result;
    CHECK(p.total >= previous_total);
    previous_total = p.total;
    CHECK(p.total <= full.total);
    CHECK(sum_counts(p) == p.total);
    for (const auto& g : p.groups) {
      const auto same = std::find_if(full.groups.begin(), full.groups.end(), [&](const StackGroup& f) {
        return f.frames == g.frames && f.creator == g.creator;
      });
      REQUIRE(same != full.groups.end());
      CHECK(g.count <= same->count);
    }
  }
  CHECK(previous_total == full.total);
}

TEST_CASE("debug2: many distinct stacks stay distinct", "[pprof]") {
  // 20,000 stacks that differ only in one line number or one function-name byte, each seen twice.
  std::string body;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 10'000; ++i) {
      body += "goroutine " + std::to_string(i) + " [chan receive]:\n";
      body += "main.f(0x0?)\n\t/src/app/main.go:" + std::to_string(i) + " +0x25\n";
      body += "main.g" + std::to_string(i % 10) + "()\n\t/src/app/main.go:1 +0x25\n";
      body += "created by main.main\n\t/src/app/main.go:2 +0x1\n\n";
      body += "goroutine " + std::to_string(i) + " [chan receive]:\n";
      body += "main.h" + std::to_string(i) + "(0x0?)\n\t/src/app/main.go:7 +0x25\n";
      body += "created by main.main\n\t/src/app/main.go:2 +0x1\n\n";
    }
  }
  const Profile p = parse_ok(body);
  CHECK(p.total == 40'000);
  REQUIRE(p.groups.size() == 20'000);
  for (const auto& g : p.groups) {
    REQUIRE(g.count == 2);
  }
  CHECK(p.groups[0].frames[0] == Frame{"main.f", "/src/app/main.go", 0});
  CHECK(p.groups[1].frames[0] == Frame{"main.h0", "/src/app/main.go", 7});
  CHECK(p.groups.back().frames[0] == Frame{"main.h9999", "/src/app/main.go", 7});
}

TEST_CASE("debug2: a million goroutines on ten stacks", "[pprof]") {
  constexpr int kGoroutines = 1'000'000;
  constexpr int kStacks = 10;
  // Built from per-stack pieces around the goroutine's ID (which also varies an argument word, as real
  // dumps do): a few appends per record keep this fast even in a Debug build.
  std::vector<std::string> before_arg;
  std::vector<std::string> after_arg;
  for (int s = 0; s < kStacks; ++s) {
    const std::string n = std::to_string(s);
    before_arg.push_back((s % 2 == 0 ? " [chan send]:\n" : " [select, 7 minutes]:\n") + "main.leak"s + n + "(0xc");
    after_arg.push_back("?)\n\t/src/app/leak.go:" + n + " +0x25\nmain.run(...)\n\t/src/app/run.go:40\n" +
                        "created by main.main in goroutine 1\n\t/src/app/main.go:1" + n + " +0x5b2\n\n");
  }
  std::string body;
  body.reserve(static_cast<std::size_t>(kGoroutines) * 160);
  char id[16];
  for (int i = 0; i < kGoroutines; ++i) {
    const auto s = static_cast<std::size_t>(i % kStacks);
    const std::string_view digits(id, static_cast<std::size_t>(std::to_chars(id, id + sizeof id, i + 1).ptr - id));
    body += "goroutine ";
    body += digits;
    body += before_arg[s];
    body += digits;
    body += after_arg[s];
  }
  REQUIRE(body.size() > 100'000'000);

  std::size_t largest = 0;
  std::size_t heap_before = 0;
  std::size_t heap_after = 0;
  Profile p;
  {
    AllocationTracker tracker;
    heap_before = mallinfo2().uordblks;
    p = parse_ok(body);
    heap_after = mallinfo2().uordblks;
    largest = tracker.largest();
  }
  CHECK(p.total == static_cast<std::uint64_t>(kGoroutines));
  CHECK(p.truncation_reason.empty());
  REQUIRE(p.groups.size() == kStacks);
  for (int s = 0; s < kStacks; ++s) {
    const StackGroup& g = p.groups[static_cast<std::size_t>(s)];
    const std::string n = std::to_string(s);
    CHECK(g.count == static_cast<std::uint64_t>(kGoroutines / kStacks));
    CHECK(g.frames == std::vector<Frame>{Frame{"main.leak" + n, "/src/app/leak.go", static_cast<std::uint32_t>(s)},
                                         Frame{"main.run", "/src/app/run.go", 40}});
    CHECK(*g.creator == Frame{"main.main", "/src/app/main.go", static_cast<std::uint32_t>(10 + s)});
    if (s % 2 == 0) {
      CHECK(g.states == std::vector<StateCount>{{"chan send", 100'000}});
      CHECK(g.wait_minutes == histogram({{0, 100'000}}, 0));
    } else {
      CHECK(g.states == std::vector<StateCount>{{"select", 100'000}});
      CHECK(g.wait_minutes == histogram({{3, 100'000}}, 7));
    }
  }
  if (AllocationTracker::available()) {
    // Nothing scales with goroutines: no allocation anywhere near 1M entries, and what the profile
    // keeps (10 groups) is a few KiB of heap for a ~100 MB body.
    INFO("largest allocation " << largest << " bytes, heap growth " << heap_after - heap_before << " bytes");
    CHECK(largest < 16 * 1024);
    CHECK(heap_after - heap_before < 64 * 1024);
  }
}

TEST_CASE("debug2: records that repeat an earlier record's bytes group as if read line by line", "[pprof]") {
  // parse_debug2 joins a record whose lines after the header repeat, byte for byte, those of a record
  // read before to that record's group without reading them again. Separating the records with a line
  // holding one space instead of an empty line turns that off (it ends records the same way, in the same
  // number of lines), so the two bodies below must parse to the same profile, error or truncation.
  const std::string chan =
      "main.leaf(0x0?)\n\t/src/app/leaf.go:12 +0x25\nmain.run(...)\n\t/src/app/run.go:40\n"
      "created by main.main in goroutine 1\n\t/src/app/main.go:10 +0x5b2\n";
  const std::string longer =  // `chan` with one more frame: same start, other length
      "main.leaf(0x0?)\n\t/src/app/leaf.go:12 +0x25\nmain.run(...)\n\t/src/app/run.go:40\n"
      "main.outer()\n\t/src/app/run.go:50 +0x1\n"
      "created by main.main in goroutine 1\n\t/src/app/main.go:10 +0x5b2\n";
  const std::string other_line =  // `chan` but for one digit of a line number
      "main.leaf(0x0?)\n\t/src/app/leaf.go:13 +0x25\nmain.run(...)\n\t/src/app/run.go:40\n"
      "created by main.main in goroutine 1\n\t/src/app/main.go:10 +0x5b2\n";
  const std::string other_args =  // `chan` with another argument word: same group, other bytes
      "main.leaf(0xc000012345)\n\t/src/app/leaf.go:12 +0x25\nmain.run(...)\n\t/src/app/run.go:40\n"
      "created by main.main in goroutine 1\n\t/src/app/main.go:10 +0x5b2\n";
  const std::string ancestors = chan + "[originating from goroutine 1]:\nmain.main()\n\t/src/app/main.go:9 +0x1\n";
  const std::string goexit =
      "main.leaf(0x0?)\n\t/src/app/leaf.go:12 +0x25\nruntime.goexit()\n\t/usr/lib/go/src/runtime/asm_amd64.s:1594 "
      "+0x1\n"
      "created by main.main in goroutine 1\n\t/src/app/main.go:10 +0x5b2\n";
  const std::vector<std::string> headers = {" [chan receive]:\n",
                                            " [chan receive, 3 minutes]:\n",
                                            " [select]:\n",
                                            " [chan receive] {job: a}:\n",
                                            " [chan receive] {job: b, \"k y\": \"v\"}:\n",
                                            " [chan receive (leaked)]:\n"};
  const std::vector<const std::string*> bodies = {&chan, &longer,    &other_line, &other_args,
                                                  &chan, &ancestors, &goexit,     &longer};

  const auto build = [&](std::string_view separator, std::string_view tail) {
    std::string out;
    for (int i = 0; i < 400; ++i) {
      if (i > 0) out += separator;
      out += "goroutine " + std::to_string(i + 2);
      out += headers[static_cast<std::size_t>(i * 7 % 11) % headers.size()];
      out += *bodies[static_cast<std::size_t>(i * 5 % 13) % bodies.size()];
    }
    out += tail;
    return out;
  };
  const std::vector<std::string> tails = {
      "",                                                        // the last record ends the dump
      "\ngoroutine 999 [chan receive]:\n" + chan,                // a repeated body as the last record
      "\ngoroutine 999 [chan receive]:\n" + chan + "\n",         // ... followed by a blank line
      "\ngoroutine 999 [chan receive]:\n" + chan + "oops\n\n",   // a repeated body, then an error
      "\ngoroutine 999 [chan receive]:\n" + chan.substr(0, 40),  // cut inside a repeated body
      "\ngoroutine 999 [chan receive]:\n" + chan + "\r\n\n",     // a repeated body, then a CR line
  };
  for (std::size_t t = 0; t < tails.size(); ++t) {
    const std::string fast = build("\n", tails[t]);
    const std::string slow = build(" \n", tails[t]);
    INFO("tail " << t);
    const auto a = parse_debug2(fast);
    const auto b = parse_debug2(slow);
    REQUIRE(a.has_value() == b.has_value());
    if (!a.has_value()) {
      CHECK(error_message(a) == error_message(b));
      continue;
    }
    require_same(*a, *b);
    for (std::size_t i = 0; i < a->groups.size(); ++i) {
      CHECK(a->groups[i].states == b->groups[i].states);
      CHECK(a->groups[i].wait_minutes == b->groups[i].wait_minutes);
      CHECK(a->groups[i].creator == b->groups[i].creator);
    }
    if (t == 0) {
      CHECK(a->total == 400);
      CHECK(a->groups.size() > 10);
    }
  }

  // Every cut at a line boundary: both bodies have their lines in the same places.
  const std::string fast = build("\n", "");
  const std::string slow = build(" \n", "");
  std::size_t fast_end = 0;
  std::size_t slow_end = 0;
  for (int line = 1;; ++line) {
    fast_end = fast.find('\n', fast_end);
    slow_end = slow.find('\n', slow_end);
    if (fast_end == std::string::npos) break;
    ++fast_end;
    ++slow_end;
    INFO("cut after line " << line);
    const auto a = parse_debug2(std::string_view(fast).substr(0, fast_end));
    const auto b = parse_debug2(std::string_view(slow).substr(0, slow_end));
    REQUIRE(a.has_value() == b.has_value());
    if (a.has_value()) {
      require_same(*a, *b);
    } else {
      REQUIRE(error_message(a) == error_message(b));
    }
  }
}
