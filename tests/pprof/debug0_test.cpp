// parse_debug0 against the real Go 1.19 debug=0 dump of tests/targets/patterns (compared group by group
// with parse_debug1 on the debug=1 dump of the same process) and against profiles built here with a tiny
// protobuf encoder, for the encodings and failures Go's own writer never produces.

#include "alloc_tracker.hpp"
#include "leakwatch/common/gzip.hpp"
#include "leakwatch/pprof/parser.hpp"
#include "testdata.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
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

namespace {

// ---- a tiny protobuf encoder ----

class Proto {
 public:
  Proto& varint(std::uint32_t field, std::uint64_t value) {
    tag(field, 0);
    raw_varint(value);
    return *this;
  }
  Proto& bytes(std::uint32_t field, std::string_view payload) {
    tag(field, 2);
    raw_varint(payload.size());
    out_.append(payload);
    return *this;
  }
  Proto& message(std::uint32_t field, const Proto& m) { return bytes(field, m.str()); }
  Proto& packed(std::uint32_t field, const std::vector<std::uint64_t>& values) {
    Proto p;
    for (const auto v : values) p.raw_varint(v);
    return bytes(field, p.str());
  }
  Proto& raw(std::string_view bytes) {
    out_.append(bytes);
    return *this;
  }
  void tag(std::uint32_t field, unsigned wire) { raw_varint((std::uint64_t{field} << 3) | wire); }
  void raw_varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// Builds a goroutine profile the way runtime/pprof lays it out: records first, string table last.
class Builder {
 public:
  explicit Builder(std::string sample_type = "goroutine") {
    body_.message(1, Proto{}.varint(1, str(sample_type)).varint(2, str("count")));
  }

  std::uint64_t str(const std::string& s) {
    const auto it = std::find(strings_.begin(), strings_.end(), s);
    if (it != strings_.end()) return static_cast<std::uint64_t>(it - strings_.begin());
    strings_.push_back(s);
    return strings_.size() - 1;
  }

  Builder& function(std::uint64_t id, const std::string& name, const std::string& file) {
    body_.message(5, Proto{}.varint(1, id).varint(2, str(name)).varint(3, str(name)).varint(4, str(file)));
    return *this;
  }
  // lines: (function id, line), innermost first.
  Builder& location(std::uint64_t id, const std::vector<std::pair<std::uint64_t, std::int64_t>>& lines,
                    std::uint64_t address = 0) {
    Proto loc;
    loc.varint(1, id).varint(3, address == 0 ? 0x400000 + id * 16 : address);
    for (const auto& [function, line] : lines) {
      loc.message(4, Proto{}.varint(1, function).varint(2, static_cast<std::uint64_t>(line)));
    }
    body_.message(4, loc.varint(2, 1));
    return *this;
  }
  Builder& sample(const std::vector<std::uint64_t>& locations, std::int64_t count,
                  const std::vector<std::pair<std::string, std::string>>& labels = {}, bool packed = true) {
    Proto s;
    if (packed) {
      s.packed(2, {static_cast<std::uint64_t>(count)}).packed(1, locations);
    } else {
      s.varint(2, static_cast<std::uint64_t>(count));
      for (const auto l : locations) s.varint(1, l);
    }
    for (const auto& [k, v] : labels) {
      s.message(3, Proto{}.varint(1, str(k)).varint(2, str(v)));
    }
    body_.message(2, s);
    return *this;
  }
  Builder& raw_sample(const Proto& s) {
    body_.message(2, s);
    return *this;
  }
  Proto& body() { return body_; }

  // The inflated profile.proto: time_nanos, a mapping, then the string table, as Go writes them.
  std::string proto() const {
    Proto p = body_;
    p.varint(9, 1700000000000000000ull);
    p.message(3, Proto{}.varint(1, 1).varint(2, 0x400000).varint(3, 0x800000));
    for (const auto& s : strings_) p.bytes(6, s);
    return p.str();
  }
  std::string gz() const { return leakwatch::common::gzip(proto()); }

 private:
  Proto body_;
  std::vector<std::string> strings_{""};
};

// The small two-stack profile most cases start from: main.worker parked in a chan receive.
Builder basic() {
  Builder b;
  b.function(1, "runtime.gopark", "/go/src/runtime/proc.go")
      .function(2, "runtime.chanrecv1", "/go/src/runtime/chan.go")
      .function(3, "main.worker", "/app/main.go")
      .function(4, "runtime.goexit", "/go/src/runtime/asm_amd64.s")
      .function(5, "main.other", "/app/main.go")
      .location(1, {{1, 363}})
      .location(2, {{2, 442}})
      .location(3, {{3, 17}})
      .location(4, {{4, 1594}})
      .location(5, {{5, 30}});
  return b;
}

Frame fr(std::string_view function, std::string_view file, std::uint32_t line) {
  return Frame{test::kept(function), test::kept(file), line};
}

Profile parse_ok(std::string_view bytes, const Limits& limits = {}) {
  auto result = parse_debug0(bytes, limits);
  if (!result.has_value()) {
    FAIL("unexpected error: " << error_message(result));
  }
  return std::move(*result);
}

std::string parse_error(std::string_view bytes, const Limits& limits = {}) {
  auto result = parse_debug0(bytes, limits);
  if (result.has_value()) {
    FAIL("expected an error, got a profile with " << result->groups.size() << " groups");
  }
  return error_message(result);
}

// debug=1 hides the leading runtime.* frames (and runtime.goexit, which debug0 drops too).
std::vector<Frame> as_debug1_shows(const std::vector<Frame>& frames) {
  const auto first = std::find_if(frames.begin(), frames.end(),
                                  [](const Frame& f) { return !f.function.starts_with("runtime."); });
  if (first == frames.end()) return frames;
  return {first, frames.end()};
}

// A readable, comparable rendering of a group's frames and labels.
std::string group_key(const std::vector<Frame>& frames, const Labels& labels) {
  std::string key;
  for (const auto& f : frames) {
    key.append(f.function).append(" ").append(f.file).append(":").append(std::to_string(f.line)).append("\n");
  }
  for (const auto& [k, v] : labels) key += "label " + k + "=" + v + "\n";
  return key;
}

}  // namespace

TEST_CASE("debug0: real dump has the debug1 dump's total and groups", "[pprof][debug0]") {
  const Profile p0 = parse_ok(read_testdata("patterns.debug0.pb.gz"));
  const auto p1_result = parse_debug1(read_testdata("patterns.debug1.txt"));
  REQUIRE(p1_result.has_value());
  const Profile& p1 = *p1_result;

  CHECK(p0.kind == ProfileKind::goroutine);
  CHECK_FALSE(p0.truncated());
  CHECK(p0.total == 63);
  CHECK(p0.total == p1.total);
  std::uint64_t sum = 0;
  for (const auto& g : p0.groups) {
    sum += g.count;
    REQUIRE_FALSE(g.frames.empty());
    CHECK(g.frames.back().function != "runtime.goexit");
    CHECK(std::is_sorted(g.labels.begin(), g.labels.end()));
  }
  CHECK(sum == p0.total);

  // Compare (frames as debug=1 shows them, labels) -> count. The HTTP server's background read is caught
  // in the netpoller or in the read syscall depending on the capture, so its group is compared by count
  // only (README).
  const auto key_map = [](const Profile& p, std::uint64_t& background, bool hide) {
    std::map<std::string, std::uint64_t> out;
    for (const auto& g : p.groups) {
      std::vector<Frame> frames = hide ? as_debug1_shows(g.frames) : g.frames;
      const bool is_background = std::any_of(frames.begin(), frames.end(), [](const Frame& f) {
        return f.function == "net/http.(*connReader).backgroundRead";
      });
      if (is_background) {
        background += g.count;
        continue;
      }
      out[group_key(frames, g.labels)] += g.count;
    }
    return out;
  };
  std::uint64_t background0 = 0;
  std::uint64_t background1 = 0;
  const auto groups0 = key_map(p0, background0, true);
  const auto groups1 = key_map(p1, background1, false);
  CHECK(background0 == background1);
  CHECK(groups0.size() == groups1.size());
  for (const auto& [key, count] : groups1) {
    INFO("debug1 group:\n" << key);
    const auto it = groups0.find(key);
    REQUIRE(it != groups0.end());
    CHECK(it->second == count);
  }
}

TEST_CASE("debug0: real dump keeps leading runtime frames and raw label bytes", "[pprof][debug0]") {
  const Profile p = parse_ok(read_testdata("patterns.debug0.pb.gz"));

  // main.chanSend as debug=0 shows it: the runtime frames debug=1 hides lead the stack.
  const StackGroup* send = nullptr;
  for (const auto& g : p.groups) {
    if (g.frames.size() >= 4 && g.frames[3].function == "main.chanSend") send = &g;
  }
  REQUIRE(send != nullptr);
  CHECK(send->count == 3);
  CHECK(send->frames[0].function == "runtime.gopark");
  CHECK(send->frames[0].file == "/usr/lib/go-1.19/src/runtime/proc.go");
  CHECK(send->frames[1].function == "runtime.chansend");
  CHECK(send->frames[2].function == "runtime.chansend1");
  CHECK(send->frames[3] == fr("main.chanSend", "leakwatch/targets/patterns/main.go", 35));

  // The label values with invalid UTF-8 and control bytes arrive as the raw bytes Go stored.
  const Labels odd = {
      {"bytes", "\xff\xfe"}, {"ctl", "\a\b\f\r\v\x00\x7f"s}, {"uni", "\u200b|\U000e0001|🙂"}, {"ключ", "値"}};
  std::uint64_t odd_count = 0;
  for (const auto& g : p.groups) {
    if (g.labels == odd) odd_count += g.count;
  }
  CHECK(odd_count == 3);

  // Inlined recvInlined is the first line of the location it shares with inlineCaller.
  bool inlined = false;
  for (const auto& g : p.groups) {
    const auto it = std::find_if(g.frames.begin(), g.frames.end(),
                                 [](const Frame& f) { return f.function == "main.recvInlined"; });
    if (it != g.frames.end()) {
      REQUIRE(it + 1 != g.frames.end());
      CHECK((it + 1)->function == "main.inlineCaller");
      inlined = true;
    }
  }
  CHECK(inlined);
}

TEST_CASE("debug0: parse() dispatches to parse_debug0", "[pprof][debug0]") {
  const std::string body = read_testdata("patterns.debug0.pb.gz");
  const auto via_parse = parse(body, Format::debug0);
  REQUIRE(via_parse.has_value());
  leakwatch::pprof::test::require_same(*via_parse, parse_ok(body));
}

TEST_CASE("debug0: already-inflated protos parse like gzip'd ones", "[pprof][debug0]") {
  const std::string gz = read_testdata("patterns.debug0.pb.gz");
  const auto inflated = leakwatch::common::gunzip(gz, 1 << 20);
  REQUIRE(inflated.status == leakwatch::common::InflateStatus::ok);
  leakwatch::pprof::test::require_same(parse_ok(inflated.out), parse_ok(gz));
}

TEST_CASE("debug0: frames, goexit, multi-line locations, sample type", "[pprof][debug0]") {
  SECTION("leaf first, a final runtime.goexit dropped") {
    const Profile p = parse_ok(basic().sample({1, 2, 3, 4}, 7).gz());
    CHECK(p.kind == ProfileKind::goroutine);
    CHECK(p.total == 7);
    REQUIRE(p.groups.size() == 1);
    CHECK(p.groups[0].count == 7);
    CHECK(p.groups[0].frames == std::vector<Frame>{fr("runtime.gopark", "/go/src/runtime/proc.go", 363),
                                                   fr("runtime.chanrecv1", "/go/src/runtime/chan.go", 442),
                                                   fr("main.worker", "/app/main.go", 17)});
    CHECK(p.groups[0].labels.empty());
  }
  SECTION("runtime.goexit is dropped only at the end") {
    const Profile p = parse_ok(basic().sample({4, 3}, 1).gz());
    REQUIRE(p.groups.size() == 1);
    CHECK(p.groups[0].frames.size() == 2);
    CHECK(p.groups[0].frames[0].function == "runtime.goexit");
  }
  SECTION("inlined lines: line[0] innermost, the last one the physical caller") {
    Builder b = basic();
    b.function(6, "main.inner", "/app/inner.go").location(6, {{6, 5}, {3, 40}, {5, 50}});
    const Profile p = parse_ok(b.sample({1, 6, 4}, 2).gz());
    REQUIRE(p.groups.size() == 1);
    CHECK(p.groups[0].frames ==
          std::vector<Frame>{fr("runtime.gopark", "/go/src/runtime/proc.go", 363), fr("main.inner", "/app/inner.go", 5),
                             fr("main.worker", "/app/main.go", 40), fr("main.other", "/app/main.go", 50)});
  }
  SECTION("a location without lines and a line without a function are unknown frames") {
    Builder b = basic();
    b.location(7, {}).location(8, {{0, 12}});
    const Profile p = parse_ok(b.sample({7, 8, 3}, 1).gz());
    REQUIRE(p.groups.size() == 1);
    CHECK(p.groups[0].frames == std::vector<Frame>{fr(kUnknownFunction, "", 0), fr(kUnknownFunction, "", 12),
                                                   fr("main.worker", "/app/main.go", 17)});
  }
  SECTION("goroutineleak sample type; an empty leak profile is valid") {
    Builder b("goroutineleak");
    const Profile empty = parse_ok(b.gz());
    CHECK(empty.kind == ProfileKind::goroutineleak);
    CHECK(empty.total == 0);
    CHECK(empty.groups.empty());
    CHECK_FALSE(empty.truncated());

    b.function(1, "main.leak", "/app/leak.go").location(1, {{1, 9}}).sample({1}, 4);
    const Profile p = parse_ok(b.gz());
    CHECK(p.kind == ProfileKind::goroutineleak);
    CHECK(p.total == 4);
  }
  SECTION("another profile's sample type is refused") {
    CHECK(parse_error(Builder("alloc_objects").gz()) ==
          "profile.proto sample type is \"alloc_objects\", not \"goroutine\" or \"goroutineleak\": not a "
          "goroutine profile");
    Proto p;
    p.bytes(6, "");
    CHECK(parse_error(leakwatch::common::gzip(p.str())) == "profile.proto has no sample_type: not a goroutine profile");
  }
  SECTION("a sample without locations is a group without frames") {
    const Profile p = parse_ok(basic().sample({}, 2).gz());
    REQUIRE(p.groups.size() == 1);
    CHECK(p.groups[0].frames.empty());
  }
}

TEST_CASE("debug0: packed and unpacked repeated fields decode alike", "[pprof][debug0]") {
  const Profile packed = parse_ok(basic().sample({1, 2, 3, 4}, 5, {{"job", "a"}}, true).gz());
  const Profile unpacked = parse_ok(basic().sample({1, 2, 3, 4}, 5, {{"job", "a"}}, false).gz());
  leakwatch::pprof::test::require_same(packed, unpacked);
  REQUIRE(unpacked.groups.size() == 1);
  CHECK(unpacked.groups[0].frames.size() == 3);
  CHECK(unpacked.total == 5);

  // Mixed: some ids packed, more unpacked after them, values split likewise (value[0] is the count).
  Builder b = basic();
  b.raw_sample(Proto{}.packed(1, {1, 2}).varint(1, 3).varint(2, 5).packed(2, {99, 100}).varint(1, 4));
  leakwatch::pprof::test::require_same(parse_ok(b.gz()), parse_ok(basic().sample({1, 2, 3, 4}, 5).gz()));
}

TEST_CASE("debug0: samples equal after symbolization are merged", "[pprof][debug0]") {
  Builder b = basic();
  // Location 9 is another PC on main.worker's line 17 (two calls on one line).
  b.location(9, {{3, 17}}, 0x999999);
  b.sample({1, 2, 3, 4}, 2)
      .sample({1, 2, 9, 4}, 3)
      .sample({1, 2, 3, 4}, 1, {{"tenant", "acme"}, {"job", "x"}})
      .sample({1, 2, 9, 4}, 4, {{"job", "x"}, {"tenant", "acme"}})
      .sample({1, 2, 3, 4}, 5, {{"job", "y"}})
      .sample({1, 2, 5, 4}, 6);
  const Profile p = parse_ok(b.gz());
  CHECK(p.total == 21);
  REQUIRE(p.groups.size() == 4);
  // First-seen order.
  CHECK(p.groups[0].count == 5);
  CHECK(p.groups[0].labels.empty());
  CHECK(p.groups[1].count == 5);
  CHECK(p.groups[1].labels == Labels{{"job", "x"}, {"tenant", "acme"}});  // sorted by key
  CHECK(p.groups[2].count == 5);
  CHECK(p.groups[2].labels == Labels{{"job", "y"}});
  CHECK(p.groups[3].count == 6);
  CHECK(p.groups[3].frames[2].function == "main.other");
}

TEST_CASE("debug0: labels are raw bytes; numeric labels are skipped", "[pprof][debug0]") {
  Builder b = basic();
  const std::string bad_utf8 = "\xff\xfe\xc3(\x00\x80"s;
  b.sample({1, 3}, 1, {{"k\xc0", bad_utf8}, {"empty", ""}});
  Proto s;
  s.packed(2, {1}).packed(1, {1, 5});
  s.message(3, Proto{}.varint(1, b.str("bytes")).varint(3, 4096).varint(4, b.str("bytes")));
  s.message(3, Proto{}.varint(1, b.str("tenant")).varint(2, b.str("acme")));
  b.raw_sample(s);
  const Profile p = parse_ok(b.gz());
  REQUIRE(p.groups.size() == 2);
  CHECK(p.groups[0].labels == Labels{{"empty", ""}, {"k\xc0", bad_utf8}});
  CHECK(p.groups[1].labels == Labels{{"tenant", "acme"}});
}

TEST_CASE("debug0: ids may be sparse or out of order", "[pprof][debug0]") {
  Builder b;
  b.function(1000000007, "main.b", "/b.go")
      .function(3, "main.a", "/a.go")
      .location(1ull << 40, {{3, 1}})
      .location(2, {{1000000007, 2}})
      .sample({1ull << 40, 2}, 1);
  const Profile p = parse_ok(b.gz());
  REQUIRE(p.groups.size() == 1);
  CHECK(p.groups[0].frames == std::vector<Frame>{fr("main.a", "/a.go", 1), fr("main.b", "/b.go", 2)});
}

TEST_CASE("debug0: negative and absurd counts", "[pprof][debug0]") {
  CHECK(parse_error(basic().sample({3}, -1).gz())
            .ends_with(": negative count -1 (a delta profile from ?seconds=N is not a goroutine snapshot)"));
  CHECK(parse_error(basic().sample({3}, (std::int64_t{1} << 40) + 1).gz()).ends_with(": count exceeds 2^40"));
  CHECK(parse_ok(basic().sample({3}, std::int64_t{1} << 40).gz()).total == std::uint64_t{1} << 40);
  CHECK(parse_error(basic().sample({3}, std::int64_t{1} << 40).sample({5}, 1).gz())
            .ends_with(": total goroutine count exceeds 2^40"));
  CHECK(parse_error(basic().raw_sample(Proto{}.packed(1, {3})).gz()).ends_with(": no value (the goroutine count)"));
  // A zero count is kept (it adds nothing to the total).
  const Profile zero = parse_ok(basic().sample({3}, 0).gz());
  REQUIRE(zero.groups.size() == 1);
  CHECK(zero.groups[0].count == 0);
}

TEST_CASE("debug0: references to undefined records name them", "[pprof][debug0]") {
  SECTION("unknown location id") {
    const std::string e = parse_error(basic().sample({1, 77}, 1).gz());
    CHECK(e.starts_with("sample 0 (offset "));
    CHECK(e.ends_with("): unknown location id 77"));
    CHECK(parse_error(basic().sample({1, 0}, 1).gz()).ends_with("): unknown location id 0"));
  }
  SECTION("unknown function id") {
    CHECK(parse_error(basic().location(6, {{1, 1}, {42, 7}}).sample({6}, 1).gz()) ==
          "location 6: unknown function id 42");
  }
  SECTION("string index past the table") {
    Builder b;
    b.body().message(5, Proto{}.varint(1, 1).varint(2, 99).varint(4, 0));
    const std::string e = parse_error(b.gz());
    CHECK(e.starts_with("function 1: name string index 99 is out of range (the string table has "));
    Builder sample_type;
    sample_type.body() = Proto{}.message(1, Proto{}.varint(1, 12345));
    CHECK(parse_error(sample_type.gz()).starts_with("sample_type[0]: type string index 12345 is out of range"));
    Builder label = basic();
    label.raw_sample(Proto{}.varint(2, 1).varint(1, 3).message(3, Proto{}.varint(1, 1).varint(2, 500)));
    CHECK_THAT(parse_error(label.gz()),
               Catch::Contains("): label value string index 500 is out of range (the string table has "));
  }
  SECTION("ids 0 and duplicates") {
    Builder b = basic();
    b.function(3, "main.again", "/x.go");
    CHECK(parse_error(b.gz()) == "function 3 is defined twice");
    CHECK(parse_error(basic().location(2, {{1, 1}}).gz()) == "location 2 is defined twice");
    Builder zero;
    zero.body().message(4, Proto{}.varint(3, 0x1234));
    CHECK(parse_error(zero.gz()).ends_with(": location without an id (ids start at 1)"));
  }
  SECTION("string_table[0] must be empty") {
    Proto p;
    p.message(1, Proto{}.varint(1, 1)).bytes(6, "x").bytes(6, "goroutine");
    CHECK(parse_error(leakwatch::common::gzip(p.str())) == "profile.proto: string_table[0] must be the empty string");
  }
}

TEST_CASE("debug0: malformed wire data", "[pprof][debug0]") {
  const auto gz = [](const std::string& s) { return leakwatch::common::gzip(s); };
  SECTION("varint overflow") {
    // Field 9 (time_nanos) is skipped, but its varint is still checked.
    CHECK(parse_error(gz("\x48\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02"s)) ==
          "profile.proto offset 1: varint overflows 64 bits");
    CHECK(parse_error(gz("\x48\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"s)) ==
          "profile.proto offset 1: varint overflows 64 bits");
    // The largest 10-byte varint is fine; the profile then lacks everything else.
    CHECK(parse_error(gz("\x48\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"s)) ==
          "profile.proto has no sample_type: not a goroutine profile");
    CHECK(parse_error(gz("\x08\x01"s)) ==
          "profile.proto offset 0: Profile field 1 has wire type 0, not the one profile.proto defines");
  }
  SECTION("varint cut at the end") {
    CHECK(parse_error(gz("\x48\xff\xff"s)) == "profile.proto offset 1: varint runs past the end of its message");
  }
  SECTION("length past the end, at the top and nested") {
    CHECK(parse_error(gz("\x12\x05\x0a\x00"s)) == "profile.proto offset 1: length runs past the end of its message");
    // A nested length may not run past its parent even if the buffer goes on.
    Builder b = basic();
    b.body().raw("\x12\x02\x0a\x09"s).bytes(7, std::string(20, 'x'));
    CHECK(parse_error(b.gz()).ends_with(": length runs past the end of its message"));
  }
  SECTION("groups, bad wire types, field 0") {
    CHECK(parse_error(gz("\x3b\x3c"s)) ==
          "profile.proto offset 1: group wire type (3 or 4) is not used by profile.proto");
    CHECK(parse_error(gz("\x0e"s)) == "profile.proto offset 0: invalid wire type");
    CHECK(parse_error(gz("\x00\x00"s)) == "profile.proto offset 0: invalid field number");
    Builder b = basic();
    b.raw_sample(Proto{}.varint(3, 1));
    CHECK(parse_error(b.gz()).ends_with(": Sample field 3 has wire type 0, not the one profile.proto defines"));
  }
  SECTION("fixed-size and unknown fields are skipped") {
    Builder b = basic();
    b.body().raw("\x51"s + std::string(8, '\x01') + "\x6d"s + std::string(4, '\x02'));  // fields 10, 13
    b.body().bytes(100, "ignored").varint(536870911, 1);
    b.sample({1, 3}, 1);
    CHECK(parse_ok(b.gz()).total == 1);
    Builder cut = basic();
    cut.body().raw("\x51\x01\x02"s);
    CHECK(parse_error(leakwatch::common::gzip(cut.body().str()))
              .ends_with(": fixed-size field runs past the end of its message"));
  }
}

TEST_CASE("debug0: truncated, corrupt and non-profile bodies", "[pprof][debug0]") {
  const std::string gz = read_testdata("patterns.debug0.pb.gz");
  SECTION("every cut of the gzip stream is an error") {
    for (std::size_t n = 2; n < gz.size(); ++n) {
      INFO("cut at " << n);
      const auto r = parse_debug0(std::string_view(gz).substr(0, n));
      REQUIRE_FALSE(r.has_value());
    }
    CHECK(parse_error(gz.substr(0, gz.size() / 2)) ==
          "gzip: the body ends inside the compressed stream (truncated profile)");
  }
  SECTION("a corrupt stream") {
    std::string bad = gz;
    for (std::size_t i = 12; i < 40; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    CHECK(parse_error(bad).starts_with("gzip: "));
    CHECK(parse_error("\x1f\x8b\x08\x00garbage"s).starts_with("gzip: "));
  }
  SECTION("text and empty bodies") {
    CHECK(parse_error(read_testdata("garbage.txt")).starts_with("not gzip, and not a raw profile.proto either: "));
    CHECK(parse_error(read_testdata("patterns.debug1.txt"))
              .starts_with("not gzip, and not a raw profile.proto either: profile.proto offset 0: "));
    CHECK(parse_error("") == "empty body, expected a gzip'd profile.proto");
  }
}

TEST_CASE("debug0: max_decompressed_bytes stops a gzip bomb while inflating", "[pprof][debug0]") {
  // 64 MiB of one repeated byte compress to ~64 KiB.
  const std::string bomb = leakwatch::common::gzip(std::string(64u << 20, '\x0a'));
  REQUIRE(bomb.size() < (1u << 20));
  const Limits limits{.max_decompressed_bytes = 1 << 20};
  std::string error;
  std::size_t largest = 0;
  {
    AllocationTracker tracker;
    error = parse_error(bomb, limits);
    largest = tracker.largest();
  }
  CHECK(error == "gzip: the inflated profile exceeds max_decompressed_bytes (1048576)");
  if (AllocationTracker::available()) {
    CHECK(largest <= (1u << 20) + 4096);
  }
  // The limit applies to raw protos too, and a profile within it passes.
  const std::string proto = basic().sample({1, 3}, 1).proto();
  CHECK(parse_error(proto, Limits{.max_decompressed_bytes = proto.size() - 1}) ==
        "the profile.proto exceeds max_decompressed_bytes (" + std::to_string(proto.size() - 1) + ")");
  CHECK(parse_ok(leakwatch::common::gzip(proto), Limits{.max_decompressed_bytes = proto.size()}).total == 1);
}

TEST_CASE("debug0: max_frames_per_stack keeps the leaf-most frames", "[pprof][debug0]") {
  Builder b = basic();
  b.sample({1, 2, 3, 5, 4}, 1).sample({1, 2, 3, 4}, 2).sample({1, 2, 5, 4}, 4);
  const Profile p = parse_ok(b.gz(), Limits{.max_frames_per_stack = 3});
  // The goexit is dropped before capping; the first two samples are equal once capped, so they merge.
  REQUIRE(p.groups.size() == 2);
  CHECK(p.groups[0].count == 3);
  CHECK(p.groups[0].frames == std::vector<Frame>{fr("runtime.gopark", "/go/src/runtime/proc.go", 363),
                                                 fr("runtime.chanrecv1", "/go/src/runtime/chan.go", 442),
                                                 fr("main.worker", "/app/main.go", 17)});
  CHECK(p.groups[1].count == 4);
  CHECK(p.total == 7);
  CHECK(p.truncation_reason.starts_with("sample 0 (offset "));
  CHECK(p.truncation_reason.ends_with("has more than max_frames_per_stack (3) frames; kept the leaf-most ones"));

  // Inlined lines count one by one.
  Builder inl = basic();
  inl.location(6, {{3, 1}, {3, 2}, {3, 3}, {3, 4}}).sample({6}, 1);
  const Profile q = parse_ok(inl.gz(), Limits{.max_frames_per_stack = 2});
  REQUIRE(q.groups.size() == 1);
  CHECK(q.groups[0].frames ==
        std::vector<Frame>{fr("main.worker", "/app/main.go", 1), fr("main.worker", "/app/main.go", 2)});
}

TEST_CASE("debug0: max_groups keeps the first groups and the whole total", "[pprof][debug0]") {
  Builder b = basic();
  b.sample({1, 3}, 1).sample({1, 5}, 2).sample({2, 3}, 4).sample({1, 3}, 8);
  const Profile p = parse_ok(b.gz(), Limits{.max_groups = 2});
  REQUIRE(p.groups.size() == 2);
  CHECK(p.groups[0].count == 9);  // the 4th sample still merges into the first group
  CHECK(p.groups[1].count == 2);
  CHECK(p.total == 15);
  CHECK(p.truncation_reason == "more than max_groups (2) distinct stacks: 1 samples (4 goroutines) were not kept");
  CHECK(p.truncated());
}

TEST_CASE("debug0: samples that expand to far more frames than bytes are refused", "[pprof][debug0]") {
  Builder b = basic();
  std::vector<std::pair<std::uint64_t, std::int64_t>> lines;
  for (int i = 0; i < 1000; ++i) lines.emplace_back(3, i + 1);
  b.location(6, lines);
  for (int i = 0; i < 1500; ++i) b.sample({6}, 1);
  const std::string gz = b.gz();
  CHECK(parse_error(gz).starts_with("profile.proto samples expand to more than "));
  // Within the budget (fewer samples) the same shape is fine.
  Builder ok = basic();
  ok.location(6, lines);
  for (int i = 0; i < 100; ++i) ok.sample({6}, 1);
  const Profile p = parse_ok(ok.gz());
  REQUIRE(p.groups.size() == 1);
  CHECK(p.groups[0].count == 100);
  CHECK(p.groups[0].frames.size() == 1000);
}

TEST_CASE("debug0: corrupted and cut raw protos fail cleanly or parse consistently", "[pprof][debug0]") {
  const auto inflated = leakwatch::common::gunzip(read_testdata("patterns.debug0.pb.gz"), 1 << 20);
  REQUIRE(inflated.status == leakwatch::common::InflateStatus::ok);
  const std::string& proto = inflated.out;
  const auto consistent = [](const leakwatch::common::Result<Profile>& r) {
    if (!r.has_value()) {
      CHECK_FALSE(r.error().message.empty());
      return;
    }
    std::uint64_t sum = 0;
    for (const auto& g : r->groups) sum += g.count;
    CHECK(sum == r->total);
  };
  // Every prefix: the string table comes last, so most fail; none may crash or misreport.
  for (std::size_t n = 0; n <= proto.size(); ++n) {
    consistent(parse_debug0(std::string_view(proto).substr(0, n)));
  }
  // Random byte flips (fixed seed: reproducible).
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  const auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  std::size_t parsed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string mutated = proto;
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int f = 0; f < flips; ++f) {
      mutated[next() % mutated.size()] = static_cast<char>(next());
    }
    const auto r = parse_debug0(mutated);
    parsed += r.has_value() ? 1 : 0;
    consistent(r);
  }
  CHECK(parsed > 0);  // some flips only touch addresses or line numbers
}
