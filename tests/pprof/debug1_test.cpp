// parse_debug1 against the real Go 1.19 dumps from tests/targets/patterns (rebuilt by
// scripts/capture-pprof-testdata.sh; the frames asserted here are that program's lines) and against
// hand-made edge cases.

#include "alloc_tracker.hpp"
#include "leakwatch/pprof/parser.hpp"
#include "testdata.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace leakwatch::pprof;
using namespace std::string_literals;
using leakwatch::pprof::test::AllocationTracker;
using leakwatch::pprof::test::error_message;
using leakwatch::pprof::test::find_group;
using leakwatch::pprof::test::read_testdata;
using leakwatch::pprof::test::require_same;

namespace {

constexpr std::string_view kMain = "leakwatch/targets/patterns/main.go";
const std::string kGoroot = "/usr/lib/go-1.19/src/";

Frame main_frame(std::string_view function, std::uint32_t line) { return Frame{test::kept(function), kMain, line}; }

Frame go_frame(std::string_view function, const std::string& file, std::uint32_t line) {
  return Frame{test::kept(function), test::kept(kGoroot + file), line};
}

Profile parse_ok(std::string_view bytes, const Limits& limits = {}) {
  auto result = parse_debug1(bytes, limits);
  if (!result.has_value()) {
    FAIL("unexpected error: " << error_message(result));
  }
  return std::move(*result);
}

std::string parse_error(std::string_view bytes, const Limits& limits = {}) {
  auto result = parse_debug1(bytes, limits);
  if (result.has_value()) {
    FAIL("expected an error, got a profile with " << result->groups.size() << " groups");
  }
  return error_message(result);
}

}  // namespace

TEST_CASE("debug1: real dump header, totals and groups", "[pprof]") {
  const Profile p = parse_ok(read_testdata("patterns.debug1.txt"));
  CHECK(p.kind == ProfileKind::goroutine);
  CHECK_FALSE(p.truncated());
  CHECK(p.truncation_reason.empty());
  // 20 patterns x 3 goroutines + main (http.Serve), the profiling request and its background read.
  CHECK(p.total == 63);
  REQUIRE(p.groups.size() == 23);
  std::uint64_t sum = 0;
  for (const auto& g : p.groups) {
    sum += g.count;
    CHECK_FALSE(g.frames.empty());
  }
  CHECK(sum == p.total);
  // Go orders groups by count, so the three singles come last.
  CHECK(p.groups.front().count == 3);
  CHECK(p.groups.back().count == 1);
}

TEST_CASE("debug1: real dump frames per pattern", "[pprof]") {
  const Profile p = parse_ok(read_testdata("patterns.debug1.txt"));

  struct Case {
    std::string leaf;
    std::vector<Frame> frames;
  };
  const std::vector<Case> cases = {
      {"main.chanSend", {main_frame("main.chanSend", 35)}},
      {"main.chanRecv", {main_frame("main.chanRecv", 40)}},
      {"main.selectTwo", {main_frame("main.selectTwo", 45)}},
      {"main.selectNoCases", {main_frame("main.selectNoCases", 53)}},
      {"main.nilChanRecv", {main_frame("main.nilChanRecv", 59)}},
      {"sync.runtime_SemacquireMutex",  // first of three stacks with this leaf: main.mutexLock's
       {go_frame("sync.runtime_SemacquireMutex", "runtime/sema.go", 77),
        go_frame("sync.(*Mutex).lockSlow", "sync/mutex.go", 171), go_frame("sync.(*Mutex).Lock", "sync/mutex.go", 90),
        go_frame("sync.(*RWMutex).Lock", "sync/rwmutex.go", 147), main_frame("main.rwmutexLock", 76)}},
      {"sync.runtime_Semacquire",
       {go_frame("sync.runtime_Semacquire", "runtime/sema.go", 62),
        go_frame("sync.(*WaitGroup).Wait", "sync/waitgroup.go", 139), main_frame("main.waitGroupWait", 82)}},
      {"sync.runtime_notifyListWait",
       {go_frame("sync.runtime_notifyListWait", "runtime/sema.go", 517),
        go_frame("sync.(*Cond).Wait", "sync/cond.go", 70), main_frame("main.condWait", 88)}},
      {"time.Sleep", {go_frame("time.Sleep", "runtime/time.go", 195), main_frame("main.sleepLong", 94)}},
      // Inlined into inlineCaller: still its own frame.
      {"main.recvInlined", {main_frame("main.recvInlined", 122), main_frame("main.inlineCaller", 127)}},
      {"main.genericWait[...]", {main_frame("main.genericWait[...]", 132)}},
      {"main.startClosure.func1", {main_frame("main.startClosure.func1", 138)}},
      {"runtime/pprof.runtime_goroutineProfileWithLabels",
       {go_frame("runtime/pprof.runtime_goroutineProfileWithLabels", "runtime/mprof.go", 846),
        go_frame("runtime/pprof.writeRuntimeProfile", "runtime/pprof/pprof.go", 723),
        go_frame("runtime/pprof.writeGoroutine", "runtime/pprof/pprof.go", 683),
        go_frame("runtime/pprof.(*Profile).WriteTo", "runtime/pprof/pprof.go", 330),
        go_frame("net/http/pprof.handler.ServeHTTP", "net/http/pprof/pprof.go", 253),
        go_frame("net/http/pprof.Index", "net/http/pprof/pprof.go", 371),
        go_frame("net/http.HandlerFunc.ServeHTTP", "net/http/server.go", 2109),
        go_frame("net/http.(*ServeMux).ServeHTTP", "net/http/server.go", 2487),
        go_frame("net/http.serverHandler.ServeHTTP", "net/http/server.go", 2947),
        go_frame("net/http.(*conn).serve", "net/http/server.go", 1991)}},
  };
  for (const auto& c : cases) {
    INFO("leaf " << c.leaf);
    const StackGroup* g = find_group(p, c.leaf);
    REQUIRE(g != nullptr);
    CHECK(g->frames == c.frames);
    CHECK(g->labels.empty());
  }
  CHECK(find_group(p, "runtime/pprof.runtime_goroutineProfileWithLabels")->count == 1);
  CHECK(find_group(p, "main.chanSend")->count == 3);
}

TEST_CASE("debug1: real dump IO wait and main stacks", "[pprof]") {
  // The HTTP server's own goroutines are left out: whether its background read is caught in the
  // netpoller or inside the read syscall differs from capture to capture.
  const Profile p = parse_ok(read_testdata("patterns.debug1.txt"));
  const auto with_last = [&](std::string_view function) -> const StackGroup* {
    for (const auto& g : p.groups) {
      if (g.frames.back().function == function) {
        return &g;
      }
    }
    return nullptr;
  };
  const StackGroup* io = with_last("main.ioRead");
  REQUIRE(io != nullptr);
  const std::vector<Frame> read = {
      go_frame("internal/poll.runtime_pollWait", "runtime/netpoll.go", 305),
      go_frame("internal/poll.(*pollDesc).wait", "internal/poll/fd_poll_runtime.go", 84),
      go_frame("internal/poll.(*pollDesc).waitRead", "internal/poll/fd_poll_runtime.go", 89),
      go_frame("internal/poll.(*FD).Read", "internal/poll/fd_unix.go", 167),
      go_frame("net.(*netFD).Read", "net/fd_posix.go", 55),
      go_frame("net.(*conn).Read", "net/net.go", 183),
      main_frame("main.ioRead", 100),
  };
  CHECK(io->count == 3);
  CHECK(io->frames == read);

  // main, in http.Serve's Accept. Runtime frames are hidden only at the leaf end, so runtime.main stays
  // as the root.
  const StackGroup* main = with_last("runtime.main");
  REQUIRE(main != nullptr);
  CHECK(main->count == 1);
  const auto& frames = main->frames;
  REQUIRE(frames.size() == 11);
  CHECK(frames[0] == go_frame("internal/poll.runtime_pollWait", "runtime/netpoll.go", 305));
  CHECK(frames[3] == go_frame("internal/poll.(*FD).Accept", "internal/poll/fd_unix.go", 614));
  CHECK(frames[9] == main_frame("main.main", 268));
  CHECK(frames[10] == go_frame("runtime.main", "runtime/proc.go", 250));
}

TEST_CASE("debug1: real dump labels are decoded to raw bytes and sorted", "[pprof]") {
  const Profile p = parse_ok(read_testdata("patterns.debug1.txt"));
  const std::vector<Frame> frames = {
      main_frame("main.labeledWait.func1", 106),
      go_frame("runtime/pprof.Do", "runtime/pprof/runtime.go", 40),
      main_frame("main.labeledWait", 105),
  };
  const std::vector<Labels> label_sets = {
      {{"job", "ingest"}, {"tenant", "acme"}},
      {{"k", "sp ace\"q\\b\nnl\t\xc3\xa9"}},
      {{"bytes", "\xff\xfe"},
       {"ctl", "\a\b\f\r\v\x00\x7f"s},
       {"uni", "\xe2\x80\x8b|\xf3\xa0\x80\x81|\xf0\x9f\x99\x82"},
       {"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", "\xe5\x80\xa4"}},  // "ключ": "値"
      {},                                                      // "# labels: {}": pprof.Do with no labels
  };
  std::size_t labelled = 0;
  for (const auto& g : p.groups) {
    labelled += g.frames.front().function == "main.labeledWait.func1" ? 1 : 0;
  }
  CHECK(labelled == label_sets.size());
  for (const auto& labels : label_sets) {
    INFO("labels #" << (&labels - label_sets.data()));
    const StackGroup* g = find_group(p, "main.labeledWait.func1", &labels);
    REQUIRE(g != nullptr);
    CHECK(g->count == 3);
    CHECK(g->frames == frames);
  }
  CHECK(label_sets[2][1].second.size() == 7);  // the NUL is part of the value
}

TEST_CASE("debug1: real dump deep recursion is cut by Go at 32 PCs", "[pprof]") {
  const Profile p = parse_ok(read_testdata("patterns.debug1.txt"));
  const StackGroup* g = find_group(p, "main.deepRecursion");
  REQUIRE(g != nullptr);
  CHECK(g->count == 3);
  // 32 PCs = 3 hidden runtime frames + 29 main.deepRecursion; no runtime.goexit (the stack is cut).
  REQUIRE(g->frames.size() == 29);
  CHECK(g->frames[0] == main_frame("main.deepRecursion", 113));
  for (std::size_t i = 1; i < g->frames.size(); ++i) {
    CHECK(g->frames[i] == main_frame("main.deepRecursion", 116));
  }
}

TEST_CASE("debug1: CRLF line endings parse like LF", "[pprof]") {
  const Profile lf = parse_ok(read_testdata("patterns.debug1.txt"));
  const Profile crlf = parse_ok(read_testdata("patterns.debug1.crlf.txt"));
  REQUIRE(lf.groups.size() == 23);
  require_same(crlf, lf);
}

TEST_CASE("debug1: a body cut inside a group keeps the complete groups", "[pprof]") {
  const Profile full = parse_ok(read_testdata("patterns.debug1.txt"));

  SECTION("captured file cut inside the 4th group's labels") {
    const Profile p = parse_ok(read_testdata("patterns.debug1.truncated.txt"));
    CHECK(p.truncation_reason == "body ends inside the stack group starting at line 11");
    CHECK(p.total == 63);  // the header's, even though the groups hold fewer
    REQUIRE(p.groups.size() == 3);
    Profile first3 = full;
    first3.groups.resize(3);
    first3.truncation_reason = p.truncation_reason;
    require_same(p, first3);
  }

  SECTION("only the final blank line missing: complete") {
    std::string body = read_testdata("patterns.debug1.txt");
    REQUIRE(body.ends_with("\n\n"));
    body.pop_back();
    require_same(parse_ok(body), full);
  }

  SECTION("last frame line missing its newline: that group is dropped") {
    std::string body = read_testdata("patterns.debug1.txt");
    REQUIRE(body.ends_with("\n\n"));
    body.resize(body.size() - 2);  // ends in, say, "proc.go:250": maybe a cut "proc.go:2501"
    const Profile p = parse_ok(body);
    CHECK(p.groups.size() == 22);
    const auto last_group = static_cast<std::ptrdiff_t>(body.rfind("\n\n") + 2);
    const auto line = 1 + std::count(body.begin(), body.begin() + last_group, '\n');
    CHECK(p.truncation_reason == "body ends inside the stack group starting at line " + std::to_string(line));
  }

  SECTION("cut right after a group's '@' line") {
    const std::string body = "goroutine profile: total 4\n3 @ 0x1\n#\t0x1\tmain.a+0x1\t/a.go:1\n\n1 @ 0x2\n";
    const Profile p = parse_ok(body);
    REQUIRE(p.groups.size() == 1);
    CHECK(p.groups[0].count == 3);
    CHECK(p.truncation_reason == "body ends inside the stack group starting at line 5");
  }

  SECTION("cut at a line boundary inside a stack: the count shows goroutines are missing") {
    std::string body = read_testdata("patterns.debug1.txt");
    body.resize(body.find("fd_poll_runtime.go:84\n") + 22);  // 2 of main.ioRead's 7 frames
    const Profile p = parse_ok(body);
    REQUIRE(p.groups.size() == 11);
    CHECK(p.groups.back().frames.back().function == "main.genericWait[...]");
    CHECK(p.truncation_reason == "body ends inside the stack group starting at line 76");
  }

  SECTION("a trailing lone CR after the last newline cuts nothing") {
    std::string body = read_testdata("patterns.debug1.crlf.txt");
    body.pop_back();  // "...\r\n\r" without the last '\n'
    require_same(parse_ok(body), full);
  }
}

TEST_CASE("debug1: every cut of the real dump keeps exactly the groups before the cut", "[pprof]") {
  const std::string body = read_testdata("patterns.debug1.txt");
  const Profile full = parse_ok(body);
  const std::size_t header_end = body.find('\n') + 1;
  std::size_t unflagged = 0;
  for (std::size_t cut = 0; cut < body.size(); ++cut) {
    const std::string_view prefix = std::string_view{body}.substr(0, cut);
    const auto result = parse_debug1(prefix);
    INFO("cut at byte " << cut);
    if (cut < header_end) {
      REQUIRE_FALSE(result.has_value());
      continue;
    }
    REQUIRE(result.has_value());
    const Profile& p = *result;
    REQUIRE(p.total == 63);
    REQUIRE(p.groups.size() <= full.groups.size());
    for (std::size_t i = 0; i < p.groups.size(); ++i) {
      const bool final_group = i + 1 == full.groups.size();
      REQUIRE(p.groups[i].count == full.groups[i].count);
      REQUIRE(p.groups[i].labels == full.groups[i].labels);
      if (final_group) {
        // The one case the body cannot reveal: a cut between the frame lines of its last group.
        const auto& frames = p.groups[i].frames;
        REQUIRE(std::equal(frames.begin(), frames.end(), full.groups[i].frames.begin()));
      } else {
        REQUIRE(p.groups[i].frames == full.groups[i].frames);
      }
    }
    REQUIRE(p.truncated() == (p.groups.size() < full.groups.size()));
    unflagged += p.truncated() ? 0 : 1;
  }
  // Only the cuts right after one of the last group's frame lines look complete.
  CHECK(unflagged == full.groups.back().frames.size());
}

TEST_CASE("debug1: hand-made edge cases", "[pprof]") {
  SECTION("empty body") {
    CHECK(parse_error(read_testdata("empty.txt")) == "line 1: empty body, expected 'goroutine profile: total <N>'");
  }
  SECTION("garbage (an HTML error page)") {
    CHECK(parse_error(read_testdata("garbage.txt")) ==
          "line 1: expected 'goroutine profile: total <N>' or 'goroutineleak profile: total <N>', "
          "got \"<html>\"");
  }
  SECTION("header only: no groups, flagged because the header promises goroutines") {
    const Profile p = parse_ok(read_testdata("header-only.debug1.txt"));
    CHECK(p.total == 3);
    CHECK(p.groups.empty());
    CHECK(p.truncation_reason == "the stack groups hold 0 goroutines but the header says total 3");
  }
  SECTION("goroutineleak with no leaks") {
    const Profile p = parse_ok(read_testdata("goroutineleak-empty.debug1.txt"));
    CHECK(p.kind == ProfileKind::goroutineleak);
    CHECK(p.total == 0);
    CHECK(p.groups.empty());
    CHECK_FALSE(p.truncated());
  }
  SECTION("goroutineleak with leaks") {
    const Profile p = parse_ok(read_testdata("goroutineleak.debug1.txt"));
    CHECK(p.kind == ProfileKind::goroutineleak);
    CHECK(p.total == 7);
    CHECK_FALSE(p.truncated());
    REQUIRE(p.groups.size() == 2);
    CHECK(p.groups[0].count == 6);
    CHECK(p.groups[0].frames == std::vector<Frame>{{"main.producer", "/src/prog/main.go", 28}});
    CHECK(p.groups[1].labels == Labels{{"request", "r-17"}});
    CHECK(p.groups[1].frames.back() == Frame{"main.(*queue).pop", "/src/prog/queue.go", 41});
  }
  SECTION("odd frames: unsymbolized PCs, spaces and colons in paths, names without offset") {
    const Profile p = parse_ok(read_testdata("odd-frames.debug1.txt"));
    CHECK_FALSE(p.truncated());
    REQUIRE(p.groups.size() == 2);
    const std::vector<Frame> frames = {
        {"internal/poll.(*pollDesc).wait", "C:/Program Files/Go/src/internal/poll/fd_poll_runtime.go", 84},
        {kUnknownFunction, "", 0},
        {"type..eq.struct { a int; b string }", "C:/work dir/odd:name/main.go", 7},
        {"main.work", "/src/no offset/main.go", 12},
    };
    CHECK(p.groups[0].frames == frames);
    // Go sorted the quoted pairs ("a b" first); the model sorts by raw key. Octal escapes decode too.
    CHECK(p.groups[0].labels == Labels{{"a", "2"}, {"a b", "1"}, {"oct", "A\xc2\xa9"}, {"q", "it's \"x\""}});
    CHECK(p.groups[1].frames == std::vector<Frame>{{"?", "", 0}});
  }
}

TEST_CASE("debug1: malformed bodies name the line", "[pprof]") {
  const std::string h = "goroutine profile: total 1\n";
  const std::string g = "1 @ 0x1\n";
  struct Case {
    std::string body;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"threadcreate profile: total 1\n",
       "line 1: expected 'goroutine profile: total <N>' or 'goroutineleak profile: total <N>', "
       "got \"threadcreate profile: total 1\""},
      {"goroutine profile: total x\n",
       "line 1: expected 'goroutine profile: total <N>', got \"goroutine profile: total x\""},
      {"goroutine profile: total 12", "line 1: body ends inside the header"},
      {"goroutine profile: total 2000000000000\n", "line 1: total exceeds 2^40"},
      {h + "1 @ 0x1\n#\t0x1\tmain.a+0x1\t/a.go:1\n\nnot a group\n",
       "line 5: expected '<count> @ <addresses>', got \"not a group\""},
      {h + "1 @ 0xZZ\n", "line 2: expected '<count> @ <addresses>', got \"1 @ 0xZZ\""},
      {h + "1 0x1\n", "line 2: expected '<count> @ <addresses>', got \"1 0x1\""},
      {h + "2000000000000 @ 0x1\n", "line 2: count exceeds 2^40"},
      {h + "99999999999999999999999999 @ 0x1\n", "line 2: count exceeds 2^40"},
      {h + g + "main.a\n",
       "line 3: expected a '#' frame line or the blank line that ends the stack group starting at line 2, "
       "got \"main.a\""},
      {h + g + "#0x1\tmain.a+0x1\t/a.go:1\n",
       "line 3: expected '#\\t0x<pc>\\t<function>+0x<offset>\\t<file>:<line>' or '#\\t0x<pc>', "
       "got \"#0x1\\tmain.a+0x1\\t/a.go:1\""},
      {h + g + "#\t0x1\tmain.a+0x1\t/a.go\n",
       "line 3: expected '#\\t0x<pc>\\t<function>+0x<offset>\\t<file>:<line>' or '#\\t0x<pc>', "
       "got \"#\\t0x1\\tmain.a+0x1\\t/a.go\""},
      {h + g + "#\t0x1\tmain.a+0x1\t/a.go:12a\n",
       "line 3: expected '#\\t0x<pc>\\t<function>+0x<offset>\\t<file>:<line>' or '#\\t0x<pc>', "
       "got \"#\\t0x1\\tmain.a+0x1\\t/a.go:12a\""},
      {h + g + "#\t0x1\tmain.a+0x1\t/a.go:99999999999\n",
       "line 3: expected '#\\t0x<pc>\\t<function>+0x<offset>\\t<file>:<line>' or '#\\t0x<pc>', "
       "got \"#\\t0x1\\tmain.a+0x1\\t/a.go:99999999999\""},
      {h + g + "#\t0x1\tmain.a+0x1\n",
       "line 3: expected '#\\t0x<pc>\\t<function>+0x<offset>\\t<file>:<line>' or '#\\t0x<pc>', "
       "got \"#\\t0x1\\tmain.a+0x1\""},
      {h + g + "#\t0x1\tmain.a+0x1\t/a.go:1\n# labels: {\"k\":\"v\"}\n",
       "line 4: labels line after the labels or frames of its group"},
      {h + g + "# labels: {\"k\":\"v\"}\n# labels: {\"k\":\"v\"}\n",
       "line 4: labels line after the labels or frames of its group"},
      {h + g + "# labels: {\"k\":\"v\"\n",
       "line 3: expected '# labels: {\"key\":\"value\", ...}', got \"# labels: {\\\"k\\\":\\\"v\\\"\""},
      {h + g + "# labels: {\"k\":\"\\q\"}\n", "line 3: bad labels: unknown escape"},
      {h + g + "# labels: {\"k\":\"\\x4\"}\n", "line 3: bad labels: invalid \\x escape"},
      {h + g + "# labels: {\"k\":\"\\ud800\"}\n", "line 3: bad labels: invalid \\u or \\U escape"},
      {h + g + "# labels: {\"k\":\"\\U00110000\"}\n", "line 3: bad labels: invalid \\u or \\U escape"},
      {h + g + "# labels: {\"k\":\"\\400\"}\n", "line 3: bad labels: invalid octal escape"},
      {h + g + "# labels: {\"k\":\"v}\n", "line 3: bad labels: unterminated quoted string"},
      {h + g + "# labels: {\"k\" \"v\"}\n", "line 3: bad labels: expected ':' after a label key"},
      {h + g + "# labels: {\"k\":\"v\" \"j\":\"w\"}\n", "line 3: bad labels: expected ',' between labels"},
      {h + g + "# labels: {\"k\":\"v\", }\n", "line 3: bad labels: trailing ',' in labels"},
      {h + g + "# labels: {k:\"v\"}\n", "line 3: bad labels: expected '\"'"},
  };
  for (const auto& c : cases) {
    INFO("body: " << c.body);
    CHECK(parse_error(c.body) == c.error);
  }
}

TEST_CASE("debug1: escapes decode exactly", "[pprof]") {
  const Profile p = parse_ok(
      "goroutine profile: total 1\n1 @ 0x1\n"
      "# labels: {\"e\":\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\'\", \"o\":\"\\000\\177\\377\", "
      "\"u\":\"\\u00e9\\U0001F642\\xC3\\xA9\"}\n"
      "#\t0x1\tmain.a+0x1\t/a.go:1\n\n");
  REQUIRE(p.groups.size() == 1);
  CHECK(p.groups[0].labels ==
        Labels{{"e", "\a\b\f\n\r\t\v\\\"'"}, {"o", "\x00\x7f\xff"s}, {"u", "\xc3\xa9\xf0\x9f\x99\x82\xc3\xa9"}});
}

TEST_CASE("debug1: a garbage line inside a real dump names its line", "[pprof]") {
  std::string body = read_testdata("patterns.debug1.txt");
  // Replace line 3 (chanSend's frame) with something that is no frame.
  const auto start = body.find('\n', body.find('\n') + 1) + 1;
  const auto end = body.find('\n', start);
  body.replace(start, end - start, "\x01\x02garbage");
  CHECK(parse_error(body) ==
        "line 3: expected a '#' frame line or the blank line that ends the stack group starting at line 2, "
        "got \"\\x01\\x02garbage\"");
}

TEST_CASE("debug1: max_line_bytes rejects a long line without copying it", "[pprof]") {
  const std::string huge(2 << 20, 'x');  // 2 MiB, no newline
  const std::string in_group = "goroutine profile: total 1\n1 @ 0x1\n#\t0x1\t" + huge + "\n\n";

  std::optional<leakwatch::common::Result<Profile>> first;
  std::optional<leakwatch::common::Result<Profile>> third;
  std::size_t largest = 0;
  {
    const AllocationTracker tracker;
    first.emplace(parse_debug1(huge));
    third.emplace(parse_debug1(in_group));
    largest = tracker.largest();
  }
  CHECK(error_message(*first) == "line 1: longer than max_line_bytes (1048576)");
  CHECK(error_message(*third) == "line 3: longer than max_line_bytes (1048576)");
  if (AllocationTracker::available()) {
    CHECK(largest < 4096);
  } else {
    WARN("allocation tracking is off in sanitizer builds");
  }

  // The limit is inclusive, and configurable.
  const std::string body = "goroutine profile: total 1\n1 @ 0x1\n#\t0x1\tmain.a+0x1\t/a.go:1\n\n";
  CHECK(parse_debug1(body, Limits{.max_line_bytes = 26}).has_value());  // the header is the longest line
  CHECK(parse_error(body, Limits{.max_line_bytes = 25}) == "line 1: longer than max_line_bytes (25)");
}

TEST_CASE("debug1: max_groups stops with the groups read so far", "[pprof]") {
  const std::string body = read_testdata("patterns.debug1.txt");
  const Profile full = parse_ok(body);

  const Profile p = parse_ok(body, Limits{.max_groups = 5});
  REQUIRE(p.groups.size() == 5);
  CHECK(p.truncation_reason == "stopped at max_groups (5): the stack group at line 23 and any after it were not read");
  CHECK(p.total == 63);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(p.groups[i].frames == full.groups[i].frames);
  }

  // Exactly as many groups as allowed is not a truncation.
  const Profile exact = parse_ok(body, Limits{.max_groups = 23});
  CHECK(exact.groups.size() == 23);
  CHECK_FALSE(exact.truncated());
}

TEST_CASE("debug1: max_frames_per_stack keeps the leaf-most frames", "[pprof]") {
  const Profile full = parse_ok(read_testdata("patterns.debug1.txt"));
  const Profile p = parse_ok(read_testdata("patterns.debug1.txt"), Limits{.max_frames_per_stack = 4});
  CHECK(p.truncation_reason ==
        "the stack group at line 35 has more than max_frames_per_stack (4) frames; kept the leaf-most ones");
  REQUIRE(p.groups.size() == full.groups.size());
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < p.groups.size(); ++i) {
    const auto& got = p.groups[i].frames;
    const auto& all = full.groups[i].frames;
    REQUIRE(got.size() == std::min<std::size_t>(all.size(), 4));
    CHECK(std::equal(got.begin(), got.end(), all.begin()));
    sum += p.groups[i].count;
  }
  CHECK(sum == 63);  // every group (and its count) is kept
  // A line past the cap is still validated.
  CHECK(parse_error("goroutine profile: total 1\n1 @ 0x1\n#\t0x1\tmain.a+0x1\t/a.go:1\n#\tbad\n\n",
                    Limits{.max_frames_per_stack = 1})
            .starts_with("line 4: expected '#\\t0x<pc>"));
}

TEST_CASE("debug1: group sums that disagree with the header are flagged, not rejected", "[pprof]") {
  const Profile p = parse_ok("goroutine profile: total 5\n2 @ 0x1\n#\t0x1\tmain.a+0x1\t/a.go:1\n\n");
  CHECK(p.total == 5);
  REQUIRE(p.groups.size() == 1);
  CHECK(p.truncation_reason == "the stack groups hold 2 goroutines but the header says total 5");
}

TEST_CASE("debug1: tolerated variations", "[pprof]") {
  // Extra blank lines between groups, trailing blanks, and a group with no PCs.
  const Profile p = parse_ok(
      "goroutine profile: total 3\n\n"
      "2 @ 0x1 \n#\t0x1\tmain.a+0x1\t/a.go:1\t\n\n\n"
      "1 @\n\n");
  REQUIRE(p.groups.size() == 2);
  CHECK(p.groups[0].frames == std::vector<Frame>{{"main.a", "/a.go", 1}});
  CHECK(p.groups[1].count == 1);
  CHECK(p.groups[1].frames.empty());
  CHECK_FALSE(p.truncated());
}

TEST_CASE("debug1: a PC printed with different lines is read line by line", "[pprof]") {
  // The parser reuses the frame of a repeated (PC, text) line. Go never prints one PC two ways within a
  // profile, but a body is untrusted: the PC alone must never decide what a line says.
  const Profile p = parse_ok(
      "goroutine profile: total 3\n"
      "1 @ 0x10 0x20\n"
      "#\t0x10\tmain.a+0x1\t/a.go:1\n"
      "#\t0x20\tmain.root+0x1\t/root.go:9\n\n"
      "1 @ 0x10 0x20\n"
      "#\t0x10\tmain.b+0x1\t/b.go:2\n"
      "#\t0x20\tmain.root+0x1\t/root.go:9\n\n"
      "1 @ 0x10 0x20\n"
      "#\t0x10\tmain.a+0x1\t/a.go:1\n"
      "#\t0x10\n\n");
  REQUIRE(p.groups.size() == 3);
  CHECK(p.groups[0].frames == std::vector<Frame>{{"main.a", "/a.go", 1}, {"main.root", "/root.go", 9}});
  CHECK(p.groups[1].frames == std::vector<Frame>{{"main.b", "/b.go", 2}, {"main.root", "/root.go", 9}});
  CHECK(p.groups[2].frames == std::vector<Frame>{{"main.a", "/a.go", 1}, {kUnknownFunction, "", 0}});
  // A repeated line that is malformed is still an error on its own line.
  const auto bad = parse_debug1(
      "goroutine profile: total 2\n"
      "1 @ 0x10\n#\t0x10\tmain.a+0x1\t/a.go:1\n\n"
      "1 @ 0x10\n#\t0x10\tmain.a+0x1\t/a.go\n\n");
  REQUIRE_FALSE(bad.has_value());
  CHECK(error_message(bad).starts_with("line 6: expected"));
}
