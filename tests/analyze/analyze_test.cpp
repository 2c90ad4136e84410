// lib/analyze: URL handling, input reading, and the table and JSON `leakwatch analyze` prints for the
// real Go 1.19 dumps of tests/targets/patterns (tests/testdata/pprof). Fetching a live URL is covered by
// tests/integration/test_analyze.py against the real Go target.

#include "leakwatch/analyze/analyze.hpp"
#include "leakwatch/analyze/report.hpp"
#include "leakwatch/analyze/source.hpp"
#include "leakwatch/pprof/signature.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace leakwatch::analyze;
namespace pprof = leakwatch::pprof;
namespace json = boost::json;

namespace {

std::string testdata_path(const std::string& name) { return std::string{LEAKWATCH_TESTDATA_DIR} + "/pprof/" + name; }

std::string read_testdata(const std::string& name) {
  std::ifstream in(testdata_path(name), std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + name);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Report report_of(const std::string& name, std::optional<pprof::Format> format = std::nullopt) {
  auto r = make_report(read_testdata(name), format);
  if (!r) FAIL(name << ": " << r.error().message);
  return std::move(*r);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

struct RunResult {
  int rc;
  std::string out, err;
};

RunResult run_with(Options options, const std::string& stdin_bytes = "") {
  std::istringstream in(stdin_bytes);
  std::ostringstream out, err;
  const int rc = run(options, in, out, err);
  return {rc, out.str(), err.str()};
}

Options options_for(std::string source) {
  Options o;
  o.source = std::move(source);
  return o;
}

}  // namespace

// ------------------------------------------------------------------------------------------------ input

TEST_CASE("parse_format_option", "[analyze]") {
  std::optional<pprof::Format> f = pprof::Format::debug2;
  CHECK(parse_format_option("auto", f));
  CHECK_FALSE(f.has_value());
  CHECK(parse_format_option("debug0", f));
  CHECK(f == pprof::Format::debug0);
  CHECK(parse_format_option("debug2", f));
  CHECK(f == pprof::Format::debug2);
  CHECK_FALSE(parse_format_option("debug3", f));
  CHECK_FALSE(parse_format_option("", f));
}

TEST_CASE("is_url", "[analyze]") {
  CHECK(is_url("http://127.0.0.1:6060"));
  CHECK(is_url("HTTPS://svc.example.com/debug/pprof/goroutine"));
  CHECK_FALSE(is_url("-"));
  CHECK_FALSE(is_url("dump.txt"));
  CHECK_FALSE(is_url("/tmp/http://x"));
}

TEST_CASE("endpoint_from_url: default path, debug parameter, ports, IPv6", "[analyze]") {
  struct Case {
    std::string url;
    std::optional<pprof::Format> format;
    std::string host, port, host_header, path;
    bool https;
  };
  const std::vector<Case> cases = {
      {"http://127.0.0.1:6060", std::nullopt, "127.0.0.1", "6060", "127.0.0.1:6060", "/debug/pprof/goroutine?debug=1",
       false},
      {"http://127.0.0.1:6060/", pprof::Format::debug2, "127.0.0.1", "6060", "127.0.0.1:6060",
       "/debug/pprof/goroutine?debug=2", false},
      {"http://svc/debug/pprof/goroutine", pprof::Format::debug0, "svc", "80", "svc", "/debug/pprof/goroutine?debug=0",
       false},
      // A debug the URL names is kept, whatever the format says; other parameters stay.
      {"https://svc.example.com/debug/pprof/goroutine?debug=2", std::nullopt, "svc.example.com", "443",
       "svc.example.com", "/debug/pprof/goroutine?debug=2", true},
      {"http://svc:8080/debug/pprof/goroutineleak?seconds=5#frag", std::nullopt, "svc", "8080", "svc:8080",
       "/debug/pprof/goroutineleak?seconds=5&debug=1", false},
      {"HTTP://[::1]:9000/p", std::nullopt, "::1", "9000", "[::1]:9000", "/p?debug=1", false},
  };
  for (const auto& c : cases) {
    INFO(c.url);
    const auto e = endpoint_from_url(c.url, c.format);
    REQUIRE(e.has_value());
    CHECK(e->endpoint.host == c.host);
    CHECK(e->endpoint.port == c.port);
    CHECK(e->endpoint.host_header == c.host_header);
    CHECK(e->path == c.path);
    CHECK(e->endpoint.https == c.https);
    CHECK(e->endpoint.tls_verify);
    CHECK(e->endpoint.server_name == c.host);
  }
}

TEST_CASE("endpoint_from_url: refused URLs", "[analyze]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ftp://svc/x", "only http and https"},
      {"http://user:secret@svc/", "credentials"},
      {"http://[::1", "bad URL"},
      {"http:///debug", "no host"},
      {"http://svc:0/", "bad port"},
  };
  for (const auto& [url, message] : cases) {
    INFO(url);
    const auto e = endpoint_from_url(url, std::nullopt);
    REQUIRE_FALSE(e.has_value());
    CHECK_THAT(e.error().message, Catch::Contains(message));
    // Never echoes a password back... except as part of the URL the user typed; it is refused anyway.
  }
}

TEST_CASE("read_source: file, stdin, limits, errors", "[analyze]") {
  std::istringstream none;
  const auto file = read_source(testdata_path("patterns.debug1.txt"), std::nullopt, none, std::chrono::seconds(1),
                                1 << 20);
  REQUIRE(file.has_value());
  CHECK(*file == read_testdata("patterns.debug1.txt"));

  std::istringstream in("goroutine profile: total 0\n");
  const auto from_stdin = read_source("-", std::nullopt, in, std::chrono::seconds(1), 1 << 20);
  REQUIRE(from_stdin.has_value());
  CHECK(*from_stdin == "goroutine profile: total 0\n");

  const auto too_big = read_source(testdata_path("patterns.debug1.txt"), std::nullopt, none, std::chrono::seconds(1),
                                   100);
  REQUIRE_FALSE(too_big.has_value());
  CHECK_THAT(too_big.error().message, Catch::Contains("larger than 100 bytes"));

  std::istringstream big(std::string(300, 'x'));
  CHECK_FALSE(read_source("-", std::nullopt, big, std::chrono::seconds(1), 299).has_value());

  const auto missing = read_source(testdata_path("nope.txt"), std::nullopt, none, std::chrono::seconds(1), 1 << 20);
  REQUIRE_FALSE(missing.has_value());
  CHECK_THAT(missing.error().message, Catch::Contains("nope.txt") && Catch::Contains("No such file"));

  const auto directory = read_source(LEAKWATCH_TESTDATA_DIR, std::nullopt, none, std::chrono::seconds(1), 1 << 20);
  REQUIRE_FALSE(directory.has_value());
  CHECK_THAT(directory.error().message, Catch::Contains("Is a directory"));
}

// ----------------------------------------------------------------------------------------------- report

TEST_CASE("make_report: the three formats of one process", "[analyze]") {
  const std::vector<std::pair<std::string, pprof::Format>> files = {
      {"patterns.debug0.pb.gz", pprof::Format::debug0},
      {"patterns.debug1.txt", pprof::Format::debug1},
      {"patterns.debug2.txt", pprof::Format::debug2},
  };
  for (const auto& [name, format] : files) {
    INFO(name);
    const Report r = report_of(name);
    CHECK(r.format == format);
    CHECK(r.profile.total == 63);
    CHECK(r.profile.groups.size() == 20);  // 23 debug=1 groups; the 4 labelled ones are one stack
    CHECK(r.profile.groups.front().count == 12);
    // Explicitly the same format: the same report.
    CHECK(report_of(name, format).profile.groups.size() == r.profile.groups.size());
  }
}

TEST_CASE("make_report: errors", "[analyze]") {
  const auto empty = make_report("", std::nullopt);
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().message == "the input is empty");

  const auto garbage = make_report(read_testdata("garbage.txt"), std::nullopt);
  REQUIRE_FALSE(garbage.has_value());
  CHECK_THAT(garbage.error().message, Catch::StartsWith("not a goroutine profile"));

  const auto wrong = make_report(read_testdata("patterns.debug1.txt"), pprof::Format::debug2);
  REQUIRE_FALSE(wrong.has_value());
  CHECK_THAT(wrong.error().message, Catch::StartsWith("debug2: ") && Catch::Contains("looks like debug1"));

  // An explicit format goes to its parser even when detection would not recognise the body.
  const auto forced = make_report(read_testdata("garbage.txt"), pprof::Format::debug1);
  REQUIRE_FALSE(forced.has_value());
  CHECK_THAT(forced.error().message, Catch::StartsWith("debug1: "));
}

// ------------------------------------------------------------------------------------------------- text

TEST_CASE("render_text: header, aligned columns, one row per group", "[analyze]") {
  const Report r = report_of("patterns.debug1.txt");
  const std::string text = render_text(r);
  const auto lines = lines_of(text);
  REQUIRE(lines.size() == 2 + 20);
  CHECK(lines[0] == "goroutine profile (debug1): 63 goroutines in 20 groups");
  CHECK_THAT(lines[1], Catch::StartsWith("COUNT  SIGNATURE         STATE"));
  CHECK(lines[1].find("WAIT") == std::string::npos);  // debug=1 has no wait times
  CHECK(text.find('\x1b') == std::string::npos);      // no colour unless asked
  // Every column starts at the same offset in every row.
  const auto site_col = lines[1].find("LEAK SITE");
  const auto loc_col = lines[1].find("LOCATION");
  for (std::size_t i = 0; i < r.profile.groups.size(); ++i) {
    const auto& g = r.profile.groups[i];
    const std::string& line = lines[i + 2];
    INFO(line);
    CHECK(line.find(pprof::signature_hex(g.signature)) == 7);
    CHECK(line.substr(0, 5) == std::string(5 - std::to_string(g.count).size(), ' ') + std::to_string(g.count));
    CHECK(line.substr(site_col, g.frames[g.leak_site].function.size()) == g.frames[g.leak_site].function);
    CHECK(line.substr(loc_col) ==
          std::string{g.frames[g.leak_site].file}.append(":").append(std::to_string(g.frames[g.leak_site].line)));
  }
  // The mutex row names main.mutexLock with the wait class, not sync.(*Mutex).Lock.
  const auto mutex = std::find_if(lines.begin(), lines.end(),
                                  [](const std::string& l) { return l.find("main.mutexLock") != std::string::npos; });
  REQUIRE(mutex != lines.end());
  CHECK_THAT(*mutex, Catch::Contains("  sync  ") && Catch::EndsWith("leakwatch/targets/patterns/main.go:64"));
}

TEST_CASE("render_text: debug=2 states and longest waits", "[analyze]") {
  Report r = report_of("patterns.debug2.txt");
  // The captured goroutines had waited under a minute; make one group look old and mixed.
  auto& g = r.profile.groups.front();
  g.wait_minutes.max_minutes = 125;
  g.states = {{"chan receive", 10}, {"select", 2}};
  const auto lines = lines_of(render_text(r));
  CHECK(lines[0] == "goroutine profile (debug2): 63 goroutines in 20 groups");
  REQUIRE(lines[1].find("WAIT") != std::string::npos);
  const auto wait_end = lines[1].find("WAIT") + 4;
  CHECK_THAT(lines[2], Catch::Contains("chan receive 10, select 2") && Catch::Contains("2h05m"));
  // Groups of equal count come in signature order: find the semaphore one by its state.
  const auto sema = std::find_if(lines.begin() + 3, lines.end(),
                                 [](const std::string& l) { return l.find("semacquire") != std::string::npos; });
  REQUIRE(sema != lines.end());
  CHECK_THAT(*sema, Catch::Contains("<1m"));
  // WAIT is right-aligned under its header.
  CHECK(lines[2].substr(wait_end - 5, 5) == "2h05m");
  CHECK(sema->substr(wait_end - 3, 3) == "<1m");
}

TEST_CASE("render_text: stacks, creator, leak-site marker, colour", "[analyze]") {
  const Report r = report_of("patterns.debug2.txt");
  const std::string text = render_text(r, TextOptions{true, false});
  // Under the row, leaf first, aligned on the longest function name of the stack.
  CHECK_THAT(text, Catch::Contains("leakwatch/targets/patterns/main.go:64\n"
                                   "         sync.runtime_SemacquireMutex  /usr/lib/go-1.19/src/runtime/sema.go:77\n"
                                   "         sync.(*Mutex).lockSlow        /usr/lib/go-1.19/src/sync/mutex.go:171\n"
                                   "         sync.(*Mutex).Lock            /usr/lib/go-1.19/src/sync/mutex.go:90\n"
                                   "       > main.mutexLock                leakwatch/targets/patterns/main.go:64\n"
                                   "       created by main.start           leakwatch/targets/patterns/main.go:171\n"
                                   "\n"));
  const std::string colored = render_text(r, TextOptions{true, true});
  CHECK_THAT(colored, Catch::StartsWith("\x1b[1mgoroutine profile (debug2)"));
  CHECK_THAT(colored, Catch::Contains("\x1b[1m> main.mutexLock"));
}

TEST_CASE("render_text: untrusted names and labels cannot reach the terminal raw", "[analyze]") {
  Report r;
  r.format = pprof::Format::debug1;
  r.profile.total = 2;
  pprof::StackGroup g;
  g.count = 2;
  g.frames = {{"main.evil\x1b[2J\x07", "/src/a\nb.go", 3}};
  g.labels = {{"a b", "1"}, {"k", "v=\"x\"\t\xff"}};
  r.profile.groups.push_back(g);
  pprof::classify(r.profile);
  r.profile.truncation_reason = "cut\r\nhere";
  const std::string text = render_text(r, TextOptions{true, false});
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\x07') == std::string::npos);
  CHECK(text.find('\r') == std::string::npos);
  CHECK_THAT(text, Catch::Contains("main.evil\\x1b[2J\\x07"));
  CHECK_THAT(text, Catch::Contains("/src/a\\nb.go:3"));
  CHECK_THAT(text, Catch::Contains("truncated: cut\\r\\nhere\n"));
  CHECK_THAT(text, Catch::Contains("labels: \"a b\"=1 k=\"v=\\\"x\\\"\\t\\xff\"\n"));
}

TEST_CASE("render_text: a group without frames", "[analyze]") {
  // debug=0 can hold a sample without locations (a goroutine caught before its first frame).
  Report r;
  r.format = pprof::Format::debug0;
  r.profile.total = 1;
  pprof::StackGroup g;
  g.count = 1;
  r.profile.groups.push_back(g);
  pprof::classify(r.profile);
  const auto lines = lines_of(render_text(r));
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[2], Catch::EndsWith("  (no frames)  -"));
  const json::value v = json::parse(render_json(r));
  CHECK(v.at("groups").as_array()[0].at("leak_site").is_null());
  CHECK(v.at("groups").as_array()[0].at("frames").as_array().empty());
}

// ------------------------------------------------------------------------------------------------- JSON

TEST_CASE("render_json: document shape on a real debug=2 dump", "[analyze]") {
  const Report r = report_of("patterns.debug2.txt");
  const std::string text = render_json(r);
  REQUIRE(text.back() == '\n');
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  const json::value v = json::parse(text);
  const auto& root = v.as_object();
  CHECK(root.at("total").to_number<std::uint64_t>() == 63);
  CHECK(root.at("format").as_string() == "debug2");
  CHECK(root.at("kind").as_string() == "goroutine");
  CHECK(root.at("truncated").as_bool() == false);
  CHECK(root.at("truncation_reason").as_string() == "");
  const auto& groups = root.at("groups").as_array();
  REQUIRE(groups.size() == 20);
  std::uint64_t sum = 0;
  std::set<std::string> signatures;
  for (const auto& gv : groups) {
    const auto& g = gv.as_object();
    sum += g.at("count").to_number<std::uint64_t>();
    const std::string sig(g.at("signature").as_string());
    CHECK(sig.size() == 16);
    CHECK(sig.find_first_not_of("0123456789abcdef") == std::string::npos);
    signatures.insert(sig);
    CHECK(g.at("frames").as_array().size() >= 1);
    CHECK(g.at("states").is_object());
    CHECK(g.at("max_wait_minutes").is_number());
    CHECK(g.at("labels").is_object());
    CHECK(g.at("wait_class").is_string());
  }
  CHECK(sum == 63);
  CHECK(signatures.size() == 20);

  // The mutex group in full.
  const auto mutex = std::find_if(groups.begin(), groups.end(), [](const json::value& g) {
    return g.at("leak_site").at("function").as_string() == "main.mutexLock";
  });
  REQUIRE(mutex != groups.end());
  const auto& m = mutex->as_object();
  CHECK(m.at("count").to_number<int>() == 3);
  CHECK(m.at("wait_class").as_string() == "sync");
  CHECK(m.at("leak_site").at("file").as_string() == "leakwatch/targets/patterns/main.go");
  CHECK(m.at("leak_site").at("line").to_number<int>() == 64);
  CHECK(m.at("frames").as_array().size() == 4);
  CHECK(m.at("frames").as_array()[0].at("function").as_string() == "sync.runtime_SemacquireMutex");
  CHECK(m.at("creator").at("function").as_string() == "main.start");
  CHECK(m.at("creator").at("line").to_number<int>() == 171);
  CHECK(m.at("states").at("semacquire").to_number<int>() == 3);
  CHECK(m.at("max_wait_minutes").to_number<int>() == 0);
}

TEST_CASE("render_json: debug=1 has no creators, states or wait times; labels and bad UTF-8", "[analyze]") {
  const json::value v = json::parse(render_json(report_of("patterns.debug1.txt")));
  for (const auto& g : v.at("groups").as_array()) {
    CHECK(g.at("creator").is_null());
    CHECK(g.at("states").as_object().empty());
    CHECK(g.at("max_wait_minutes").is_null());
  }
  // odd-frames: labels, an unsymbolized leak site.
  const json::value odd = json::parse(render_json(report_of("odd-frames.debug1.txt")));
  const auto& labels = odd.at("groups").as_array()[0].at("labels").as_object();
  CHECK(labels.at("a b").as_string() == "1");
  CHECK(labels.at("q").as_string() == "it's \"x\"");

  Report r;
  r.format = pprof::Format::debug1;
  r.profile.total = 1;
  r.profile.truncation_reason = "cut \xc3";
  pprof::StackGroup g;
  g.count = 1;
  g.frames = {{"main.f", "/a.go", 1}};
  g.labels = {{"bytes", "\xff\xfe"}, {"ctl", std::string("\a\0", 2)}, {"uni", "\xe5\x80\xa4"}};
  r.profile.groups.push_back(g);
  pprof::classify(r.profile);
  const json::value bad = json::parse(render_json(r));  // Boost.JSON rejects invalid UTF-8: this parses
  CHECK(bad.at("truncated").as_bool());
  CHECK(bad.at("truncation_reason").as_string() == "cut \xef\xbf\xbd");
  const auto& l = bad.at("groups").as_array()[0].at("labels").as_object();
  CHECK(l.at("bytes").as_string() == "\xef\xbf\xbd\xef\xbf\xbd");
  CHECK(l.at("ctl").as_string() == std::string("\a\0", 2));
  CHECK(l.at("uni").as_string() == "\xe5\x80\xa4");
}

// -------------------------------------------------------------------------------------------------- run

TEST_CASE("run: stdin, file, JSON; one-line errors with exit 1", "[analyze]") {
  const auto from_stdin = run_with(options_for("-"), read_testdata("patterns.debug0.pb.gz"));
  CHECK(from_stdin.rc == 0);
  CHECK(from_stdin.err.empty());
  CHECK_THAT(from_stdin.out, Catch::StartsWith("goroutine profile (debug0): 63 goroutines in 20 groups\n"));

  Options json_opts = options_for(testdata_path("patterns.debug1.txt"));
  json_opts.json = true;
  const auto as_json = run_with(json_opts);
  CHECK(as_json.rc == 0);
  CHECK(json::parse(as_json.out).at("format").as_string() == "debug1");

  const std::vector<std::pair<std::string, std::string>> bad = {
      {testdata_path("nope.txt"), "cannot read"},
      {testdata_path("garbage.txt"), "not a goroutine profile"},
      {testdata_path("empty.txt"), "the input is empty"},
      {"ftp://example.com/x", "only http and https"},
      {"http://127.0.0.1:1/", "GET http://127.0.0.1:1/debug/pprof/goroutine?debug=1: connect"},
  };
  for (const auto& [source, message] : bad) {
    INFO(source);
    const auto r = run_with(options_for(source));
    CHECK(r.rc == 1);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::StartsWith("leakwatch analyze: ") && Catch::Contains(message) && Catch::EndsWith("\n"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}
