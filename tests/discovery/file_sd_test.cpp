#include "leakwatch/discovery/file_sd.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace leakwatch;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("leakwatch-file-sd-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// Replaces the file's content atomically, as config management tools do.
void write(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << content;
  }
  fs::rename(tmp, path);
}

// Drives the io_context until `pred` holds or the time is up.
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(10ms);
    if (io.stopped()) io.restart();
  }
  return pred();
}

std::vector<std::string> all_targets(const std::vector<discovery::TargetGroup>& groups) {
  std::vector<std::string> out;
  for (const auto& g : groups) out.insert(out.end(), g.targets.begin(), g.targets.end());
  return out;
}

struct Harness {
  boost::asio::io_context io;
  std::shared_ptr<discovery::FileDiscoverer> provider;
  std::vector<std::vector<discovery::TargetGroup>> updates;

  explicit Harness(std::vector<std::string> files, common::Duration refresh = common::Duration{300'000}) {
    config::FileSdConfig c;
    c.files = std::move(files);
    c.refresh_interval = refresh;
    provider = std::make_shared<discovery::FileDiscoverer>(io, "app", c);
    provider->set_check_interval(20ms);
  }
  void start() {
    provider->start([this](std::vector<discovery::TargetGroup> g) { updates.push_back(std::move(g)); });
  }
  bool wait_updates(std::size_t n) {
    return run_until(io, [&] { return updates.size() >= n; });
  }
  ~Harness() {
    bool stopped = false;
    provider->stop([&] { stopped = true; });
    run_until(io, [&] { return stopped; });
  }
};

}  // namespace

TEST_CASE("file_sd reads JSON and YAML files matched by a glob", "[discovery]") {
  TempDir dir;
  write(dir.file("a.json"), R"([{"targets": ["10.0.0.1:6060", "10.0.0.2:6060"], "labels": {"team": "payments"}}])");
  write(dir.file("b.yml"), "- targets: ['10.0.0.3:6060']\n");
  write(dir.file("c.txt"), "not a target file");
  write(dir.file(".hidden.json"), "[]");

  CHECK(discovery::expand_pattern(dir.file("*")) ==
        std::vector<std::string>{dir.file("a.json"), dir.file("b.yml"), dir.file("c.txt")});
  CHECK(discovery::expand_pattern(dir.file("*.json")) == std::vector<std::string>{dir.file("a.json")});
  CHECK(discovery::expand_pattern(dir.file("[ab].*")) ==
        std::vector<std::string>{dir.file("a.json"), dir.file("b.yml")});
  CHECK(discovery::expand_pattern(dir.file("nope.json")) == std::vector<std::string>{dir.file("nope.json")});
  CHECK(discovery::expand_pattern(dir.file("missing-dir/*.json")).empty());

  Harness h({dir.file("*.json"), dir.file("b.yml"), dir.file("absent.yaml")});
  h.start();
  REQUIRE(h.wait_updates(1));
  const auto& groups = h.updates[0];
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].source == "file:" + dir.file("a.json") + ":0");
  CHECK(groups[0].targets == std::vector<std::string>{"10.0.0.1:6060", "10.0.0.2:6060"});
  CHECK(groups[0].labels == std::map<std::string, std::string>{{"team", "payments"}});
  CHECK(groups[0].profile_path.empty());
  CHECK(groups[1].source == "file:" + dir.file("b.yml") + ":0");
  CHECK(groups[1].targets == std::vector<std::string>{"10.0.0.3:6060"});
  // Nothing changes: no further update.
  run_until(
      h.io, [] { return false; }, 150ms);
  CHECK(h.updates.size() == 1);
}

TEST_CASE("file_sd picks up edits, new files and deletions; a broken file keeps its targets", "[discovery]") {
  TempDir dir;
  write(dir.file("a.json"), R"([{"targets": ["10.0.0.1:6060"]}])");
  Harness h({dir.file("*.json")});
  h.start();
  REQUIRE(h.wait_updates(1));
  CHECK(all_targets(h.updates.back()) == std::vector<std::string>{"10.0.0.1:6060"});

  SECTION("an edit") {
    write(dir.file("a.json"), R"([{"targets": ["10.0.0.1:6060", "10.0.0.9:6060"]}])");
    REQUIRE(h.wait_updates(2));
    CHECK(all_targets(h.updates.back()) == std::vector<std::string>{"10.0.0.1:6060", "10.0.0.9:6060"});
  }
  SECTION("a new file, then the first one deleted") {
    write(dir.file("b.json"), R"([{"targets": ["10.0.0.2:6060"], "labels": {"zone": "b"}}])");
    REQUIRE(h.wait_updates(2));
    CHECK(all_targets(h.updates.back()) == std::vector<std::string>{"10.0.0.1:6060", "10.0.0.2:6060"});
    fs::remove(dir.file("a.json"));
    REQUIRE(h.wait_updates(3));
    REQUIRE(h.updates.back().size() == 1);
    CHECK(h.updates.back()[0].targets == std::vector<std::string>{"10.0.0.2:6060"});
    CHECK(h.updates.back()[0].labels.at("zone") == "b");
  }
  SECTION("a broken file keeps its previous targets until it is fixed") {
    write(dir.file("a.json"), R"([{"targets": ["10.0.0.1:6060"], "labels": {"job": "reserved"}}])");
    run_until(
        h.io, [] { return false; }, 200ms);
    write(dir.file("a.json"), R"([{"targets": ["10.0.0.1:6060", )");
    run_until(
        h.io, [] { return false; }, 200ms);
    CHECK(h.updates.size() == 1);
    write(dir.file("a.json"), R"([{"targets": ["10.0.0.3:6060"]}])");
    REQUIRE(h.wait_updates(2));
    CHECK(all_targets(h.updates.back()) == std::vector<std::string>{"10.0.0.3:6060"});
  }
  SECTION("a file emptied to [] drops its targets") {
    write(dir.file("a.json"), "[]");
    REQUIRE(h.wait_updates(2));
    CHECK(h.updates.back().empty());
  }
}

TEST_CASE("file_sd's periodic refresh notices a change that stat() cannot see", "[discovery]") {
  TempDir dir;
  const std::string path = dir.file("a.json");
  write(path, R"([{"targets": ["10.0.0.1:6060"]}])");
  Harness h({path}, common::Duration{150});  // full re-read every 150ms, stat() every 20ms
  h.start();
  REQUIRE(h.wait_updates(1));
  // Same inode, size and mtime: only reading the content tells.
  const auto mtime = fs::last_write_time(path);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(22);  // the last digit of the address
    f << '2';
  }
  fs::last_write_time(path, mtime);
  REQUIRE(h.wait_updates(2));
  CHECK(all_targets(h.updates.back()) == std::vector<std::string>{"10.0.0.2:6060"});
}

TEST_CASE("file_sd delivers nothing after stop", "[discovery]") {
  TempDir dir;
  write(dir.file("a.json"), R"([{"targets": ["10.0.0.1:6060"]}])");
  Harness h({dir.file("a.json")});
  h.start();
  REQUIRE(h.wait_updates(1));
  bool stopped = false;
  h.provider->stop([&] { stopped = true; });
  REQUIRE(run_until(h.io, [&] { return stopped; }));
  write(dir.file("a.json"), R"([{"targets": ["10.0.0.2:6060"]}])");
  run_until(
      h.io, [] { return false; }, 150ms);
  CHECK(h.updates.size() == 1);
}
