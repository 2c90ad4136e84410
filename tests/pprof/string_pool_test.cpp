// StringPool: the storage every Frame of a parsed Profile views.

#include "leakwatch/pprof/string_pool.hpp"
#include "leakwatch/pprof/parser.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using leakwatch::pprof::Profile;
using leakwatch::pprof::StringPool;

TEST_CASE("StringPool: equal strings share one copy, views survive growth", "[pprof][string_pool]") {
  StringPool pool;
  std::string source = "main.worker";
  const std::string_view a = pool.intern(source);
  source[0] = 'X';  // the pool holds a copy, not the caller's bytes
  CHECK(a == "main.worker");
  CHECK(pool.intern("main.worker").data() == a.data());
  CHECK(pool.intern("").empty());

  // Enough strings to regrow the index many times and fill many blocks, and one longer than a block.
  std::vector<std::string_view> views;
  for (int i = 0; i < 20'000; ++i) views.push_back(pool.intern("pkg/f" + std::to_string(i) + ".go"));
  const std::string long_name(100'000, 'n');
  const std::string_view long_view = pool.intern(long_name);
  CHECK(pool.size() == 20'002);
  CHECK(a == "main.worker");
  CHECK(long_view == long_name);
  for (int i = 0; i < 20'000; ++i) {
    REQUIRE(views[static_cast<std::size_t>(i)] == "pkg/f" + std::to_string(i) + ".go");
    REQUIRE(pool.intern("pkg/f" + std::to_string(i) + ".go").data() == views[static_cast<std::size_t>(i)].data());
  }
  CHECK(pool.intern(long_name).data() == long_view.data());
  CHECK(pool.size() == 20'002);
  CHECK(pool.memory_bytes() >= 100'000 + 20'000 * 10);
}

TEST_CASE("Profile: frames outlive the body and stay valid in copies", "[pprof][string_pool]") {
  auto body = std::make_unique<std::string>(
      "goroutine profile: total 3\n"
      "2 @ 0x1 0x2\n"
      "#\t0x1\tmain.leak+0x10\t/src/app/main.go:12\n"
      "#\t0x2\tmain.main+0x20\t/src/app/main.go:30\n"
      "\n"
      "1 @ 0x1 0x3\n"
      "#\t0x1\tmain.leak+0x10\t/src/app/main.go:12\n"
      "#\t0x3\tmain.other+0x20\t/src/app/other.go:5\n"
      "\n");
  auto parsed = leakwatch::pprof::parse_debug1(*body);
  REQUIRE(parsed.has_value());
  // Frames must not view the body: checked by address here, and by ASan after the body is freed.
  const auto in_body = [begin = body->data(), end = body->data() + body->size()](std::string_view s) {
    return std::less_equal<const char*>{}(begin, s.data()) && std::less<const char*>{}(s.data(), end);
  };
  for (const auto& g : parsed->groups) {
    for (const auto& f : g.frames) {
      CHECK_FALSE(in_body(f.function));
      CHECK_FALSE(in_body(f.file));
    }
  }
  body.reset();
  std::optional<Profile> original{std::move(*parsed)};
  const Profile copy = *original;
  original.reset();
  REQUIRE(copy.groups.size() == 2);
  CHECK(copy.groups[0].frames[0].function == "main.leak");
  CHECK(copy.groups[1].frames[1].file == "/src/app/other.go");
  // One copy of each distinct name, shared by both groups' frames.
  CHECK(copy.groups[0].frames[0].function.data() == copy.groups[1].frames[0].function.data());
  CHECK(copy.groups[0].frames[0].file.data() == copy.groups[1].frames[0].file.data());
  CHECK(copy.strings->size() == 5);  // main.leak, main.main, main.other, main.go, other.go
}
