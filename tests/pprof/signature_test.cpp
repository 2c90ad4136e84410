// normalize_frame, classify, signature_hex and merge_by_signature: names and paths from the reference
// (sections 6.6, 7.2), wait classes and leak sites on the real Go 1.19 dump of tests/targets/patterns,
// and what a signature must and must not depend on.

#include "leakwatch/pprof/signature.hpp"
#include "leakwatch/pprof/parser.hpp"
#include "testdata.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace leakwatch::pprof;
using leakwatch::pprof::test::error_message;
using leakwatch::pprof::test::read_testdata;

namespace {

constexpr std::string_view kMain = "leakwatch/targets/patterns/main.go";

Profile parse_ok(std::string_view bytes) {
  auto result = parse_debug1(bytes);
  if (!result.has_value()) {
    FAIL("unexpected error: " << error_message(result));
  }
  return std::move(*result);
}

Profile classified_patterns(const ClassifyOptions& options = {}) {
  Profile p = parse_ok(read_testdata("patterns.debug1.txt"));
  classify(p, options);
  return p;
}

// The group having a frame named `function` (the first one, in profile order).
const StackGroup& group_with(const Profile& p, std::string_view function) {
  for (const auto& g : p.groups) {
    for (const auto& f : g.frames) {
      if (f.function == function) return g;
    }
  }
  FAIL("no group with a frame " << function);
  throw;  // unreachable: FAIL throws
}

const Frame& site(const StackGroup& g) {
  REQUIRE(g.leak_site < g.frames.size());
  return g.frames[g.leak_site];
}

NormalizedFrame normalized(std::string_view function, std::string_view file = "", std::uint32_t line = 7) {
  return normalize_frame(Frame{function, file, line});
}

StackGroup group_of(std::vector<Frame> frames, std::uint64_t count = 1) {
  StackGroup g;
  g.count = count;
  g.frames = std::move(frames);
  return g;
}

std::uint64_t signature_of(std::vector<Frame> frames, const ClassifyOptions& options = {}) {
  Profile p;
  p.groups.push_back(group_of(std::move(frames)));
  classify(p, options);
  return p.groups.front().signature;
}

// A debug=1 profile of one group: the mutex stack of the reference excerpt (section 2) with PCs,
// offsets and the GOROOT of the caller's choosing.
std::string mutex_profile(const std::string& pc, const std::string& offset, const std::string& goroot,
                          std::uint32_t line = 51, const std::string& labels = "") {
  return "goroutine profile: total 2\n2 @ 0x43b256 0x44c19e " + pc + " 0x46b2a1\n" + labels + "#\t" + pc +
         "\tsync.runtime_SemacquireMutex+" + offset + "\t" + goroot + "/src/runtime/sema.go:77\n" + "#\t" + pc +
         "\tsync.(*Mutex).lockSlow+0x164\t" + goroot + "/src/sync/mutex.go:171\n" + "#\t" + pc +
         "\tsync.(*Mutex).Lock+0x38\t" + goroot + "/src/sync/mutex.go:90\n" + "#\t" + pc + "\tmain.lockIt+" + offset +
         "\t/src/prog/main.go:" + std::to_string(line) + "\n\n";
}

}  // namespace

// ------------------------------------------------------------------------------------------ normalize

TEST_CASE("normalize_frame: function names", "[pprof][signature]") {
  struct Case {
    std::string in, out;
  };
  const std::vector<Case> cases = {
      // Go 1.19 text and proto already print "[...]".
      {"main.genericWait[...]", "main.genericWait[...]"},
      {"main.(*Box[...]).Wait", "main.(*Box[...]).Wait"},
      // Newer proto names carry the shape types, possibly nested and with '/' and '.' inside.
      {"app.(*Server[go.shape.int,go.shape.int]).AggregateResults.func1", "app.(*Server[...]).AggregateResults.func1"},
      {"example.com/m/p.Map[go.shape.[]string,go.shape.map[string]example.com/m/q.T[go.shape.int]]",
       "example.com/m/p.Map[...]"},
      {"p.F[go.shape.int].func1[go.shape.string]", "p.F[...].func1[...]"},
      // A dot in the last import-path element.
      {"gopkg.in/yaml%2ev3.(*decoder).unmarshal", "gopkg.in/yaml.v3.(*decoder).unmarshal"},
      {"gopkg.in/yaml%2Ev3.handleErr", "gopkg.in/yaml.v3.handleErr"},
      // Left alone: closures, method values, init, wrappers, an unclosed bracket, unknown frames.
      {"main.outer.func1.1", "main.outer.func1.1"},
      {"main.glob..func1", "main.glob..func1"},
      {"main.(*T).M-fm", "main.(*T).M-fm"},
      {"main.init.0", "main.init.0"},
      {"testing.(*T).Run.gowrap1", "testing.(*T).Run.gowrap1"},
      {"weird.F[unclosed", "weird.F[unclosed"},
      {"?", "?"},
  };
  for (const auto& c : cases) {
    INFO(c.in);
    CHECK(normalized(c.in).function == c.out);
  }
}

TEST_CASE("normalize_frame: hostile names cost linear time", "[pprof][signature]") {
  // A million unclosed '[' (the parsers allow 1 MiB lines): rescanning per bracket would take 10^12 steps.
  const std::string open(1 << 20, '[');
  CHECK(normalized("p.F" + open).function == "p.F" + open);
  const std::string nested = "p.F" + std::string(1 << 19, '[') + std::string(1 << 19, ']') + ".G";
  CHECK(normalized(nested).function == "p.F[...].G");
  CHECK(normalized("x.F[ y[z]").function == "x.F[ y[...]");
  CHECK(normalized("x.F]a[b]").function == "x.F]a[...]");
}

TEST_CASE("normalize_frame: file paths", "[pprof][signature]") {
  struct Case {
    std::string function, file, out;
  };
  const std::vector<Case> cases = {
      // GOROOT files, wherever Go was installed (spaces and a drive letter included).
      {"runtime.chansend", "/usr/lib/go-1.19/src/runtime/chan.go", "runtime/chan.go"},
      {"runtime.chansend", "/usr/local/go/src/runtime/chan.go", "runtime/chan.go"},
      {"runtime.chansend", "C:/Program Files/Go/src/runtime/chan.go", "runtime/chan.go"},
      {"time.Sleep", "/usr/lib/go-1.19/src/runtime/time.go", "runtime/time.go"},  // linknamed
      {"net/http.(*conn).serve", "/opt/go/src/net/http/server.go", "net/http/server.go"},
      {"internal/poll.runtime_pollWait", "/usr/lib/go-1.19/src/runtime/netpoll.go", "runtime/netpoll.go"},
      // A GOROOT whose own path contains /src/: the last one counts.
      {"sync.(*Mutex).Lock", "/home/ci/src/go/src/sync/mutex.go", "sync/mutex.go"},
      // A toolchain downloaded into the module cache is still GOROOT.
      {"runtime.gopark", "/root/go/pkg/mod/golang.org/toolchain@v0.0.1-go1.22.0.linux-amd64/src/runtime/proc.go",
       "runtime/proc.go"},
      // -trimpath GOROOT files are already relative.
      {"runtime.chansend", "runtime/chan.go", "runtime/chan.go"},
      // Module cache: module path (case escapes undone) and the path inside the module, no version.
      {"github.com/BurntSushi/toml.(*Decoder).Decode",
       "/home/u/go/pkg/mod/github.com/!burnt!sushi/toml@v1.2.0/decode.go", "github.com/BurntSushi/toml/decode.go"},
      {"google.golang.org/grpc.(*Server).serveStreams.func1", "/go/pkg/mod/google.golang.org/grpc@v1.56.3/server.go",
       "google.golang.org/grpc/server.go"},
      {"gopkg.in/yaml%2ev3.(*decoder).unmarshal", "/root/go/pkg/mod/gopkg.in/yaml.v3@v3.0.1/decode.go",
       "gopkg.in/yaml.v3/decode.go"},
      // The same dependency built with -trimpath.
      {"github.com/BurntSushi/toml.(*Decoder).Decode", "github.com/BurntSushi/toml@v1.2.0/decode.go",
       "github.com/BurntSushi/toml/decode.go"},
      // Application files are kept as printed: absolute, -trimpath, GOPATH mode, with spaces and colons.
      {"main.producer", "/src/prog/main.go", "/src/prog/main.go"},
      {"main.chanSend", std::string{kMain}, std::string{kMain}},
      {"github.com/x/y.F", "/home/u/go/src/github.com/x/y/z.go", "/home/u/go/src/github.com/x/y/z.go"},
      {"main.f", "C:/Users/A B/app:v2/main.go", "C:/Users/A B/app:v2/main.go"},
      {"example.com/a.F", "/work/a@b/c.go", "/work/a@b/c.go"},
      {"?", "", ""},
  };
  for (const auto& c : cases) {
    INFO(c.function << " " << c.file);
    const NormalizedFrame f = normalized(c.function, c.file, 42);
    CHECK(f.file == c.out);
    CHECK(f.line == 42);
  }
}

TEST_CASE("package_path: up to the first dot after the last slash, type arguments removed", "[pprof][signature]") {
  CHECK(package_path("main.main") == "main");
  CHECK(package_path("sync.(*Mutex).Lock") == "sync");
  CHECK(package_path("net/http.(*conn).serve") == "net/http");
  CHECK(package_path("internal/poll.runtime_pollWait") == "internal/poll");
  CHECK(package_path("github.com/acme/svc/store.(*DB).Get") == "github.com/acme/svc/store");
  CHECK(package_path("gopkg.in/yaml%2ev3.(*decoder).unmarshal") == "gopkg.in/yaml.v3");
  CHECK(package_path("example.com/m/p.Map[go.shape.[]string,example.com/m/q.T]") == "example.com/m/p");
  CHECK(package_path("app.(*Server[go.shape.int,example.com/x.Y]).Run") == "app");
  CHECK(package_path("?").empty());
  CHECK(package_path("nodot").empty());
}

TEST_CASE("signature_hex: 16 lowercase hex digits", "[pprof][signature]") {
  CHECK(signature_hex(0) == "0000000000000000");
  CHECK(signature_hex(0xdeadbeefull) == "00000000deadbeef");
  CHECK(signature_hex(0x0123456789abcdefull) == "0123456789abcdef");
  CHECK(signature_hex(~std::uint64_t{0}) == "ffffffffffffffff");
}

// ------------------------------------------------------------------------ wait classes and leak sites

TEST_CASE("classify: leak sites and wait classes of the real patterns dump", "[pprof][signature]") {
  const Profile p = classified_patterns();

  struct Case {
    std::string function;  // a frame of the group, and its leak site
    std::uint32_t line;
    WaitClass wait_class;
  };
  const std::vector<Case> cases = {
      // Mutex, RWMutex, WaitGroup, Cond: the caller of the sync primitive, never sync.(*Mutex).Lock.
      {"main.mutexLock", 64, WaitClass::sync},
      {"main.rwmutexRLock", 70, WaitClass::sync},
      {"main.rwmutexLock", 76, WaitClass::sync},
      {"main.waitGroupWait", 82, WaitClass::sync},
      {"main.condWait", 88, WaitClass::cond},
      {"main.sleepLong", 94, WaitClass::sleep},
      // Six frames of internal/poll and net below the application's read.
      {"main.ioRead", 100, WaitClass::io_wait},
      // The accept loop: net/http.Serve is inlined into main.main, still plumbing.
      {"main.main", 268, WaitClass::io_wait},
      // Labelled goroutines go through runtime/pprof.Do, which is plumbing.
      {"main.labeledWait.func1", 106, WaitClass::unknown},
      // debug=1 hides runtime.chansend and friends: the leaf is the site, the class unknown.
      {"main.chanSend", 35, WaitClass::unknown},
      {"main.selectTwo", 45, WaitClass::unknown},
      {"main.recvInlined", 122, WaitClass::unknown},
      {"main.genericWait[...]", 132, WaitClass::unknown},
      {"main.deepRecursion", 113, WaitClass::unknown},
  };
  for (const auto& c : cases) {
    INFO(c.function);
    const StackGroup& g = group_with(p, c.function);
    CHECK(site(g).function == c.function);
    CHECK(site(g).line == c.line);
    CHECK(site(g).file == kMain);
    CHECK(g.wait_class == c.wait_class);
  }
  // The mutex group's leaf frames are sync plumbing.
  const StackGroup& mutex = group_with(p, "main.mutexLock");
  CHECK(mutex.frames.front().function == "sync.runtime_SemacquireMutex");
  CHECK(mutex.leak_site == 3);
}

TEST_CASE("classify: a stdlib-only stack falls back to its entry function", "[pprof][signature]") {
  const Profile p = classified_patterns();
  // net/http's background read of the profiling request: no application frame at all. Depending on the
  // capture it sits in the read syscall or in the netpoller (testdata README); the site is the same.
  const StackGroup& g = group_with(p, "net/http.(*connReader).backgroundRead");
  CHECK(g.leak_site == g.frames.size() - 1);
  CHECK(site(g).function == "net/http.(*connReader).backgroundRead");
  CHECK((g.wait_class == WaitClass::syscall || g.wait_class == WaitClass::io_wait));
  // The profiler's own goroutine: runtime/pprof and net/http/pprof are both plumbing, so it falls back to the
  // connection's entry function rather than naming the pprof handler as if it leaked.
  const StackGroup& self = group_with(p, "runtime/pprof.writeRuntimeProfile");
  CHECK(site(self).function == "net/http.(*conn).serve");
  CHECK(self.leak_site == self.frames.size() - 1);
}

TEST_CASE("classify: wait classes from the leafward runtime frames debug=0 keeps", "[pprof][signature]") {
  const std::string go = "/usr/lib/go-1.19/src/";
  const Frame user{"main.f", "/src/app/main.go", 10};
  auto stack = [&](std::vector<Frame> leaf) {
    leaf.push_back(user);
    return leaf;
  };
  auto rt = [&](std::string_view function, std::string_view file) {
    return Frame{function, test::kept(go + std::string{file}), 1};
  };
  struct Case {
    std::string name;
    std::vector<Frame> frames;
    WaitClass wait_class;
  };
  const std::vector<Case> cases = {
      {"chan send",
       stack({rt("runtime.gopark", "runtime/proc.go"), rt("runtime.chansend", "runtime/chan.go"),
              rt("runtime.chansend1", "runtime/chan.go")}),
       WaitClass::chan_send},
      {"chan receive",
       stack({rt("runtime.gopark", "runtime/proc.go"), rt("runtime.chanrecv", "runtime/chan.go"),
              rt("runtime.chanrecv2", "runtime/chan.go")}),
       WaitClass::chan_receive},
      {"select", stack({rt("runtime.gopark", "runtime/proc.go"), rt("runtime.selectgo", "runtime/select.go")}),
       WaitClass::select},
      {"select (no cases)", stack({rt("runtime.gopark", "runtime/proc.go"), rt("runtime.block", "runtime/select.go")}),
       WaitClass::select_no_cases},
      {"mutex 1.19",
       stack({rt("runtime.gopark", "runtime/proc.go"), rt("runtime.goparkunlock", "runtime/proc.go"),
              rt("runtime.semacquire1", "runtime/sema.go"), rt("sync.runtime_SemacquireMutex", "runtime/sema.go"),
              rt("sync.(*Mutex).lockSlow", "sync/mutex.go"), rt("sync.(*Mutex).Lock", "sync/mutex.go")}),
       WaitClass::sync},
      {"mutex 1.24",
       stack({rt("internal/sync.runtime_SemacquireMutex", "runtime/sema.go"),
              rt("internal/sync.(*Mutex).lockSlow", "internal/sync/mutex.go"),
              rt("sync.(*Mutex).Lock", "sync/mutex.go")}),
       WaitClass::sync},
      {"waitgroup 1.25",
       stack({rt("sync.runtime_SemacquireWaitGroup", "runtime/sema.go"),
              rt("sync.(*WaitGroup).Wait", "sync/waitgroup.go")}),
       WaitClass::sync},
      {"cond",
       stack({rt("runtime.gopark", "runtime/proc.go"), rt("runtime.goparkunlock", "runtime/proc.go"),
              rt("sync.runtime_notifyListWait", "runtime/sema.go"), rt("sync.(*Cond).Wait", "sync/cond.go")}),
       WaitClass::cond},
      {"IO wait",
       stack({rt("runtime.gopark", "runtime/proc.go"), rt("runtime.netpollblock", "runtime/netpoll.go"),
              rt("internal/poll.runtime_pollWait", "runtime/netpoll.go")}),
       WaitClass::io_wait},
      {"sleep", stack({rt("runtime.gopark", "runtime/proc.go"), rt("time.Sleep", "runtime/time.go")}),
       WaitClass::sleep},
      {"syscall 1.19",
       stack({rt("syscall.Syscall", "syscall/syscall_linux.go"), rt("syscall.read", "syscall/zsyscall_linux_amd64.go"),
              rt("syscall.Read", "syscall/syscall_unix.go")}),
       WaitClass::syscall},
      {"syscall 1.21",
       stack({rt("runtime/internal/syscall.Syscall6", "runtime/internal/syscall/asm_linux_amd64.s"),
              rt("syscall.RawSyscall6", "syscall/syscall_linux.go"),
              rt("syscall.Syscall", "syscall/syscall_linux.go")}),
       WaitClass::syscall},
      // A syscall frame that is not the leaf (the goroutine parked after it) says nothing.
      {"parked above syscall", stack({rt("runtime.gopark", "runtime/proc.go"), rt("syscall.Read", "x.go")}),
       WaitClass::unknown},
      // A select inside the standard library, below the application frame: still a select.
      {"http roundtrip",
       stack({rt("runtime.gopark", "runtime/proc.go"), rt("runtime.selectgo", "runtime/select.go"),
              rt("net/http.(*persistConn).roundTrip", "net/http/transport.go")}),
       WaitClass::select},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Profile p;
    p.groups.push_back(group_of(c.frames));
    classify(p);
    const StackGroup& g = p.groups.front();
    CHECK(g.wait_class == c.wait_class);
    CHECK(site(g) == user);
  }
}

TEST_CASE("classify: debug=2 states refine a wait class the frames do not show", "[pprof][signature]") {
  const std::vector<std::pair<std::string, WaitClass>> cases = {
      {"chan send", WaitClass::chan_send},
      {"chan receive (nil chan)", WaitClass::chan_receive},
      {"select", WaitClass::select},
      {"select (no cases)", WaitClass::select_no_cases},
      {"semacquire", WaitClass::sync},
      {"sync.Mutex.Lock", WaitClass::sync},
      {"sync.RWMutex.RLock", WaitClass::sync},
      {"sync.WaitGroup.Wait", WaitClass::sync},
      {"sync.Cond.Wait", WaitClass::cond},
      {"IO wait", WaitClass::io_wait},
      {"sleep", WaitClass::sleep},
      {"syscall", WaitClass::syscall},
      {"running", WaitClass::running},
      {"runnable", WaitClass::running},
      {"GC worker (idle)", WaitClass::unknown},
  };
  std::uint64_t first = 0;
  for (const auto& [state, wait_class] : cases) {
    INFO(state);
    StackGroup g = group_of({Frame{"main.f", "/src/app/main.go", 3}}, 2);
    g.states = {StateCount{state, 2}};
    Profile p;
    p.groups.push_back(std::move(g));
    classify(p);
    CHECK(p.groups.front().wait_class == wait_class);
    // The state never changes the signature.
    if (first == 0) first = p.groups.front().signature;
    CHECK(p.groups.front().signature == first);
  }
  // Frames win over the state when they say something.
  StackGroup g = group_of({Frame{"time.Sleep", "/usr/lib/go-1.19/src/runtime/time.go", 195},
                           Frame{"main.f", "/src/app/main.go", 3}});
  g.states = {StateCount{"select", 1}};
  Profile p;
  p.groups.push_back(std::move(g));
  classify(p);
  CHECK(p.groups.front().wait_class == WaitClass::sleep);
}

TEST_CASE("classify: application modules and extra plumbing prefixes", "[pprof][signature]") {
  const std::vector<Frame> frames = {
      {"internal/poll.runtime_pollWait", "/usr/local/go/src/runtime/netpoll.go", 305},
      {"net.(*conn).Read", "/usr/local/go/src/net/net.go", 183},
      {"github.com/lib/pq.(*conn).recvMessage", "/go/pkg/mod/github.com/lib/pq@v1.10.9/conn.go", 1000},
      {"github.com/acme/svcx/metrics.Observe", "/app/svcx/metrics/m.go", 20},
      {"github.com/acme/svc/store.(*DB).Get", "/app/store/db.go", 55},
      {"main.main", "/app/main.go", 9},
  };
  auto leak_site_with = [&](const ClassifyOptions& options) {
    Profile p;
    p.groups.push_back(group_of(frames));
    classify(p, options);
    return site(p.groups.front()).function;
  };
  // Default: the first frame outside the deny-list, a third-party driver here.
  CHECK(leak_site_with({}) == "github.com/lib/pq.(*conn).recvMessage");
  // The configured prefix makes the driver plumbing too.
  ClassifyOptions extra;
  extra.extra_plumbing_prefixes = {"github.com/lib/pq."};
  CHECK(leak_site_with(extra) == "github.com/acme/svcx/metrics.Observe");
  // The application's module beats the deny-list; "svcx" is not below "svc".
  ClassifyOptions app;
  app.app_modules = {"github.com/acme/svc"};
  CHECK(leak_site_with(app) == "github.com/acme/svc/store.(*DB).Get");
  // Package main always belongs to the application.
  ClassifyOptions other;
  other.app_modules = {"example.com/none"};
  CHECK(leak_site_with(other) == "main.main");
  // Nothing in the modules and no main: the deny-list decides.
  ClassifyOptions none;
  none.app_modules = {"example.com/none"};
  Profile p;
  p.groups.push_back(group_of({frames[0], frames[1], frames[2]}));
  classify(p, none);
  CHECK(site(p.groups.front()).function == "github.com/lib/pq.(*conn).recvMessage");
}

TEST_CASE("classify: all-plumbing and degenerate stacks", "[pprof][signature]") {
  // debug=1 keeps a trailing runtime.main; the entry function is the outermost non-runtime frame.
  Profile p;
  p.groups.push_back(group_of({{"time.Sleep", "/go/src/runtime/time.go", 195},
                               {"net/http.(*Server).Serve", "/go/src/net/http/server.go", 3070},
                               {"runtime.main", "/go/src/runtime/proc.go", 250}}));
  p.groups.push_back(group_of({{"runtime.gcBgMarkWorker", "/go/src/runtime/mgc.go", 1}}));
  p.groups.push_back(group_of({{"?", "", 0}, {"?", "", 0}}));
  p.groups.push_back(group_of({}));
  classify(p);
  CHECK(site(p.groups[0]).function == "net/http.(*Server).Serve");
  CHECK(p.groups[1].leak_site == 0);
  CHECK(p.groups[2].leak_site == 1);
  CHECK(p.groups[3].leak_site == 0);  // no frames: index 0, nothing to show
  // Unsymbolized frames are never the site when something else is there.
  Profile q;
  q.groups.push_back(group_of({{"?", "", 0}, {"main.f", "/a.go", 1}}));
  classify(q);
  CHECK(q.groups.front().leak_site == 1);
}

// ------------------------------------------------------------------------------------------ signatures

TEST_CASE("signature: independent of PCs, offsets, GOROOT and labels; dependent on lines", "[pprof][signature]") {
  auto sig = [](const std::string& text) {
    Profile p = parse_ok(text);
    REQUIRE(p.groups.size() == 1);
    classify(p);
    return p.groups.front().signature;
  };
  const std::uint64_t base = sig(mutex_profile("0x674618", "0x24", "/usr/lib/go-1.19"));
  CHECK(sig(mutex_profile("0x7f0011", "0x99", "/usr/lib/go-1.19")) == base);  // rebuilt, ASLR
  CHECK(sig(mutex_profile("0x674618", "0x24", "/usr/local/go")) == base);     // another host's GOROOT
  CHECK(sig(mutex_profile("0x674618", "0x24", "C:/Program Files/Go")) == base);
  CHECK(sig(mutex_profile("0x674618", "0x24", "/usr/lib/go-1.19", 51, "# labels: {\"req\":\"42\"}\n")) == base);
  CHECK(sig(mutex_profile("0x674618", "0x24", "/usr/lib/go-1.19", 52)) != base);  // the code moved
}

TEST_CASE("signature: leafward plumbing and hidden runtime frames do not count", "[pprof][signature]") {
  const Frame site_frame{"main.lockIt", "/src/prog/main.go", 51};
  const Frame caller{"main.run", "/src/prog/main.go", 80};
  // debug=1 view: leading runtime frames hidden, sync frames shown.
  const std::uint64_t debug1 = signature_of({{"sync.runtime_SemacquireMutex", "/go/src/runtime/sema.go", 77},
                                             {"sync.(*Mutex).Lock", "/go/src/sync/mutex.go", 90},
                                             site_frame,
                                             caller,
                                             {"runtime.main", "/go/src/runtime/proc.go", 250}});
  // debug=0 view: gopark & co. kept, and another Go release's sync internals.
  const std::uint64_t debug0 = signature_of({{"runtime.gopark", "/go/src/runtime/proc.go", 363},
                                             {"runtime.semacquire1", "/go/src/runtime/sema.go", 160},
                                             {"internal/sync.runtime_SemacquireMutex", "/go/src/runtime/sema.go", 95},
                                             {"internal/sync.(*Mutex).lockSlow", "/go/src/internal/sync/mutex.go", 149},
                                             {"sync.(*Mutex).Lock", "/go/src/sync/mutex.go", 46},
                                             site_frame,
                                             caller,
                                             {"runtime.main", "/go/src/runtime/proc.go", 250}});
  // debug=2 view: no runtime frames anywhere; a compiler wrapper between site and caller (hidden by some
  // formats) changes nothing either.
  const std::uint64_t debug2 = signature_of({{"sync.runtime_SemacquireMutex", "/go/src/runtime/sema.go", 77},
                                             site_frame,
                                             {"main.(*T).lockIt-fm", "<autogenerated>", 1},
                                             caller});
  CHECK(debug0 == debug1);
  CHECK(debug2 == debug1);
  // A different caller is a different stack.
  CHECK(signature_of({site_frame, {"main.other", "/src/prog/main.go", 80}}) != debug1);
}

TEST_CASE("signature: hashes the leak site and at most depth-1 callers", "[pprof][signature]") {
  std::vector<Frame> deep;
  deep.push_back({"main.leaf", "/a.go", 1});
  for (std::uint32_t i = 0; i < 30; ++i) deep.push_back({"main.rec", "/a.go", 100 + i});
  std::vector<Frame> differs_at_16 = deep;
  differs_at_16[16].line = 999;  // the 17th frame counting the site: outside K=16
  std::vector<Frame> differs_at_15 = deep;
  differs_at_15[15].line = 999;  // the 16th: inside
  CHECK(signature_of(differs_at_16) == signature_of(deep));
  CHECK(signature_of(differs_at_15) != signature_of(deep));
  ClassifyOptions k4;
  k4.depth = 4;
  std::vector<Frame> differs_at_4 = deep;
  differs_at_4[4].line = 999;
  CHECK(signature_of(differs_at_4, k4) == signature_of(deep, k4));
  // The real 32-PC recursion of the patterns dump has 29 frames: a full window.
  const Profile p = classified_patterns();
  const StackGroup& rec = group_with(p, "main.deepRecursion");
  CHECK(rec.frames.size() >= 16);
}

TEST_CASE("signature: equal for equal stacks in one dump, distinct otherwise", "[pprof][signature]") {
  const Profile p = classified_patterns();
  // The four labelled groups are one stack.
  std::vector<std::uint64_t> labelled;
  for (const auto& g : p.groups) {
    if (site(g).function == "main.labeledWait.func1") labelled.push_back(g.signature);
  }
  REQUIRE(labelled.size() == 4);
  CHECK(std::all_of(labelled.begin(), labelled.end(), [&](auto s) { return s == labelled.front(); }));
  // Every other group is its own stack: 23 groups, 20 signatures.
  std::vector<std::uint64_t> all;
  for (const auto& g : p.groups) all.push_back(g.signature);
  std::sort(all.begin(), all.end());
  CHECK(std::unique(all.begin(), all.end()) - all.begin() == 20);
  // Classifying twice changes nothing.
  Profile again = p;
  classify(again);
  for (std::size_t i = 0; i < p.groups.size(); ++i) {
    CHECK(again.groups[i].signature == p.groups[i].signature);
    CHECK(again.groups[i].leak_site == p.groups[i].leak_site);
  }
}

// ------------------------------------------------------------------------------------------------ merge

TEST_CASE("merge_by_signature: the real dump", "[pprof][signature]") {
  const Profile merged = merge_by_signature(classified_patterns());
  CHECK(merged.total == 63);
  REQUIRE(merged.groups.size() == 20);
  std::uint64_t sum = 0;
  for (const auto& g : merged.groups) sum += g.count;
  CHECK(sum == 63);
  // The labelled goroutines: 4 groups x 3, no label common to all of them ({} is one of the sets).
  const StackGroup& top = merged.groups.front();
  CHECK(top.count == 12);
  CHECK(site(top).function == "main.labeledWait.func1");
  CHECK(top.labels.empty());
  // Sorted by count, then signature.
  for (std::size_t i = 1; i < merged.groups.size(); ++i) {
    const auto& a = merged.groups[i - 1];
    const auto& b = merged.groups[i];
    CHECK((a.count > b.count || (a.count == b.count && a.signature < b.signature)));
  }
}

TEST_CASE("merge_by_signature: counts, states, histograms, labels, representative", "[pprof][signature]") {
  auto make = [](std::uint64_t count, std::uint32_t caller_line, Labels labels, std::vector<StateCount> states,
                 std::uint32_t max_minutes) {
    StackGroup g;
    g.count = count;
    // Leafward sync frames differ by Go release; the leak site and its callers do not.
    g.frames = {{"sync.runtime_SemacquireMutex", "/go/src/runtime/sema.go", 77},
                {"main.lockIt", "/src/main.go", 51},
                {"main.run", "/src/main.go", caller_line}};
    g.labels = std::move(labels);
    g.states = std::move(states);
    g.wait_minutes.counts[2] = count;
    g.wait_minutes.max_minutes = max_minutes;
    return g;
  };
  Profile p;
  p.total = 15;
  p.groups.push_back(make(2, 80, {{"job", "a"}, {"tenant", "acme"}}, {{"semacquire", 2}}, 3));
  p.groups.push_back(make(5, 80, {{"job", "b"}, {"tenant", "acme"}}, {{"sync.Mutex.Lock", 4}, {"semacquire", 1}}, 4));
  p.groups.push_back(make(6, 90, {}, {{"semacquire", 6}}, 1));  // another caller: another signature
  // Labels not sorted by key (a hostile or odd body): the common ones are still found.
  p.groups.push_back(make(2, 80, {{"zone", "eu"}, {"tenant", "acme"}}, {{"running", 2}}, 2));
  p.groups.back().frames[0] = {"internal/sync.runtime_SemacquireMutex", "/go/src/runtime/sema.go", 95};
  classify(p);
  REQUIRE(p.groups[0].signature == p.groups[1].signature);
  REQUIRE(p.groups[0].signature == p.groups[3].signature);
  REQUIRE(p.groups[0].signature != p.groups[2].signature);

  const Profile m = merge_by_signature(p);
  REQUIRE(m.groups.size() == 2);
  CHECK(m.total == 15);
  const StackGroup& g = m.groups[0];
  CHECK(g.count == 9);
  CHECK(g.signature == p.groups[0].signature);
  CHECK(g.labels == Labels{{"tenant", "acme"}});
  CHECK(g.states == std::vector<StateCount>{{"sync.Mutex.Lock", 4}, {"semacquire", 3}, {"running", 2}});
  CHECK(g.wait_minutes.counts[2] == 9);
  CHECK(g.wait_minutes.max_minutes == 4);
  // The representative stack is the largest group's (count 5).
  CHECK(g.frames == p.groups[1].frames);
  CHECK(g.leak_site == 1);
  CHECK(m.groups[1].count == 6);
  CHECK(m.groups[1].frames == p.groups[2].frames);
}
