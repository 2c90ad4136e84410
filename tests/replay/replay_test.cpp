#include "leakwatch/replay/replay.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace leakwatch;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed with the object.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "leakwatch-replay-XXXXXX").string();
    path = ::mkdtemp(templ.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
  }
};

// A debug=1 profile: `leaked` goroutines parked in main.leak, `idle` in main.worker.
std::string debug1(int leaked, int idle) {
  std::string s = "goroutine profile: total " + std::to_string(leaked + idle) + "\n";
  if (leaked > 0) {
    s += std::to_string(leaked) +
         " @ 0x1 0x2\n#\t0x1\tmain.leak+0x1\t/app/main.go:10\n#\t0x2\tmain.main+0x2\t/app/main.go:99\n\n";
  }
  s += std::to_string(idle) + " @ 0x3\n#\t0x3\tmain.worker+0x1\t/app/main.go:20\n\n";
  return s;
}

constexpr std::int64_t kT0 = 1'700'000'000'000;

}  // namespace

TEST_CASE("list_profiles keeps <unix_ms>.txt and .pb.gz files, in time order", "[replay]") {
  TempDir d;
  d.write(std::to_string(kT0 + 30'000) + ".txt", "x");
  d.write(std::to_string(kT0) + ".pb.gz", "x");
  d.write(std::to_string(kT0 + 15'000) + ".txt", "x");
  d.write("README.md", "x");
  d.write("12x.txt", "x");
  d.write(".txt", "x");
  d.write("-5.txt", "x");
  fs::create_directory(d.path / "123.txt");  // a directory, not a profile
  const auto files = replay::list_profiles(d.path);
  REQUIRE(files.has_value());
  REQUIRE(files->size() == 3);
  CHECK((*files)[0].t_ms == kT0);
  CHECK((*files)[0].format == pprof::Format::debug0);
  CHECK((*files)[1].t_ms == kT0 + 15'000);
  CHECK_FALSE((*files)[1].format);
  CHECK((*files)[2].t_ms == kT0 + 30'000);

  SECTION("two files for one time are an error") {
    d.write(std::to_string(kT0) + ".txt", "x");
    const auto dup = replay::list_profiles(d.path);
    REQUIRE_FALSE(dup.has_value());
    CHECK(dup.error().message.find("two profiles for time 1700000000000") != std::string::npos);
  }
  CHECK_FALSE(replay::list_profiles(d.path / "missing").has_value());
}

TEST_CASE("event_json prints exactly the documented fields", "[replay]") {
  detect::Event stack;
  stack.scope = detect::Scope::stack;
  stack.function = "main.(*hub).run";
  stack.location = "app/hub.go:42";
  stack.state = detect::Transition::firing;
  stack.slope_per_second = 0.05;
  stack.p_value = 1e-9;
  CHECK(replay::event_json("api", kT0, stack) ==
        R"({"target":"api","t_ms":1700000000000,"scope":"stack","function":"main.(*hub).run",)"
        R"("location":"app/hub.go:42","state":"firing","slope_per_min":3,"p_value":1e-09})");

  detect::Event total;
  total.state = detect::Transition::resolved;
  total.slope_per_second = 0;
  total.p_value = 0.5;
  CHECK(replay::event_json("we\"ird\n", 1, total) ==
        R"({"target":"we\"ird\n","t_ms":1,"scope":"total","function":null,"location":null,"state":"resolved",)"
        R"("slope_per_min":0,"p_value":0.5})");
}

TEST_CASE("replay feeds the profiles through detection and prints only state changes", "[replay]") {
  TempDir d;
  // 100 minutes: 35 quiet ones, then 3 leaked goroutines a minute (firing once they are shown to keep pace,
  // some 50 minutes on); one unreadable file in the middle.
  for (int i = 0; i < 400; ++i) {
    const double minute = i * 0.25;
    const int leaked = minute < 35 ? 0 : static_cast<int>(3 * (minute - 35));
    d.write(std::to_string(kT0 + i * 15'000) + ".txt", debug1(leaked, 40));
  }
  d.write(std::to_string(kT0 + 7) + ".txt", "<html>not a profile</html>");

  std::ostringstream out;
  std::ostringstream err;
  replay::Options o;
  o.dir = d.path;
  o.target = "svc";
  REQUIRE(replay::run(o, out, err) == 0);
  const std::string text = out.str();
  CHECK(text.find(R"({"target":"svc","t_ms":)") == 0);
  CHECK(text.find(R"("scope":"stack","function":"main.leak","location":"/app/main.go:10","state":"firing")") !=
        std::string::npos);
  CHECK(text.find("main.worker") == std::string::npos);
  // Every line is one event object; the skipped file is reported on stderr, not stdout.
  std::istringstream lines(text);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    CHECK(line.front() == '{');
    CHECK(line.back() == '}');
  }
  CHECK(n >= 2);
  CHECK(err.str().find("skipping 1700000000007.txt") != std::string::npos);

  SECTION("the same directory gives the same output") {
    std::ostringstream again;
    std::ostringstream again_err;
    REQUIRE(replay::run(o, again, again_err) == 0);
    CHECK(again.str() == text);
  }
  SECTION("the target defaults to the directory's base name") {
    o.target.clear();
    std::ostringstream named;
    std::ostringstream named_err;
    REQUIRE(replay::run(o, named, named_err) == 0);
    CHECK(named.str().find("{\"target\":\"" + d.path.filename().string() + "\"") == 0);
  }
  SECTION("a config's detection settings apply: a longer `for` fires later") {
    d.write("leakwatch.yml", "global:\n  detection:\n    for: 20m\n");
    o.config_file = (d.path / "leakwatch.yml").string();
    std::ostringstream slow;
    std::ostringstream slow_err;
    REQUIRE(replay::run(o, slow, slow_err) == 0);
    const auto firing = [](const std::string& s) {
      const auto at = s.find("\"state\":\"firing\"");
      REQUIRE(at != std::string::npos);
      const auto start = s.rfind("\"t_ms\":", at);
      return std::stoll(s.substr(start + 7));
    };
    CHECK(firing(slow.str()) - firing(text) == 15 * 60 * 1000);
  }
}

TEST_CASE("replay reads a saved debug=2 as debug=2 only where the daemon would have asked for one", "[replay]") {
  // A poller in a time.Sleep loop: 3 start a poll and each finishes after 12 polls (3 minutes); from minute
  // 40, one a minute whose job was cancelled loops forever. Every 8th file is debug=2: only the goroutine IDs
  // there show that the new ones stay, since a loop's wait never reaches a minute.
  TempDir d;
  std::vector<std::pair<std::uint64_t, int>> live;  // id, last poll
  std::uint64_t next_id = 50;
  for (int i = 0; i < 720; ++i) {
    for (int k = 0; k < 3; ++k) live.emplace_back(next_id++, i + 11);
    if (i >= 160 && i % 4 == 0) live.emplace_back(next_id++, 1 << 30);
    std::erase_if(live, [&](const auto& g) { return g.second < i; });
    std::string text;
    if (i % 8 == 0) {
      for (const auto& [id, last] : live) {
        text += "goroutine " + std::to_string(id) +
                " [sleep]:\ntime.Sleep(0x4a817c800)\n\t/usr/local/go/src/runtime/time.go:338 +0x165\n"
                "main.pollStatus(...)\n\t/app/main.go:30\ncreated by main.start in goroutine 1\n\t/app/main.go:20 "
                "+0x2f\n\n";
      }
    } else {
      text = "goroutine profile: total " + std::to_string(live.size()) + "\n" + std::to_string(live.size()) +
             " @ 0x1 0x2\n#\t0x1\ttime.Sleep+0x165\t/usr/local/go/src/runtime/time.go:338\n"
             "#\t0x2\tmain.pollStatus+0x1\t/app/main.go:30\n\n";
    }
    d.write(std::to_string(kT0 + i * 15'000) + ".txt", text);
  }
  replay::Options o;
  o.dir = d.path;
  o.target = "svc";
  std::ostringstream out;
  std::ostringstream err;
  REQUIRE(replay::run(o, out, err) == 0);
  INFO(err.str());
  CHECK(out.str().find(R"("function":"main.pollStatus","location":"/app/main.go:30","state":"firing")") !=
        std::string::npos);

  // A job that never asks for debug=2 (interval 0) sees only the debug=1 inside those files: nothing shows
  // that the pollers stay, so nothing fires.
  d.write("leakwatch.yml",
          "scrape_configs:\n  - job_name: svc\n    static_configs:\n      - targets: ['127.0.0.1:6060']\n"
          "    debug2:\n      interval: 0s\n");
  o.config_file = (d.path / "leakwatch.yml").string();
  std::ostringstream never;
  std::ostringstream never_err;
  REQUIRE(replay::run(o, never, never_err) == 0);
  INFO(never_err.str());
  CHECK(never.str().find(R"("state":"firing")") == std::string::npos);
}

TEST_CASE("replay fails with one line for a missing directory or a bad config", "[replay]") {
  std::ostringstream out;
  std::ostringstream err;
  replay::Options o;
  o.dir = "/nonexistent/leakwatch-replay";
  CHECK(replay::run(o, out, err) == 1);
  CHECK(err.str() == "leakwatch replay: /nonexistent/leakwatch-replay: not a directory\n");
  CHECK(out.str().empty());

  TempDir d;
  d.write("bad.yml", "global:\n  detection:\n    p_value: 7\n");
  o.dir = d.path;
  o.config_file = (d.path / "bad.yml").string();
  std::ostringstream err2;
  CHECK(replay::run(o, out, err2) == 1);
  CHECK(err2.str().find("bad.yml:3:14: global: detection: p_value") != std::string::npos);
}
