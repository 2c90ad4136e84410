#pragma once
// The one model every goroutine-profile format is parsed into. Memory grows with distinct stacks, never
// with goroutines: a group holds a count, not a list; and a frame's names are views of strings the
// profile holds once (string_pool.hpp), not copies.

#include "leakwatch/pprof/string_pool.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace leakwatch::pprof {

enum class Format { debug0, debug1, debug2 };

// The one table of formats: the name config files, flags and JSON use, and the `debug=` level that asks
// net/http/pprof for it.
struct FormatInfo {
  Format format;
  std::string_view name;
  int debug_level;
};
inline constexpr std::array<FormatInfo, 3> kFormats{{
    {Format::debug0, "debug0", 0},
    {Format::debug1, "debug1", 1},
    {Format::debug2, "debug2", 2},
}};

constexpr const FormatInfo& format_info(Format format) noexcept {
  for (const auto& f : kFormats) {
    if (f.format == format) return f;
  }
  return kFormats[1];  // unreachable: kFormats lists every Format
}
constexpr std::string_view format_name(Format format) noexcept { return format_info(format).name; }
constexpr int debug_level(Format format) noexcept { return format_info(format).debug_level; }
constexpr std::optional<Format> parse_format_name(std::string_view name) noexcept {
  for (const auto& f : kFormats) {
    if (f.name == name) return f.format;
  }
  return std::nullopt;
}

// Which runtime profile the bytes came from ("goroutine profile: total N" vs "goroutineleak profile: ...").
enum class ProfileKind { goroutine, goroutineleak };

// The kinds' table: the name in Go, config files and JSON, and the default net/http/pprof path.
struct ProfileKindInfo {
  ProfileKind kind;
  std::string_view name;
  std::string_view default_path;
};
inline constexpr std::array<ProfileKindInfo, 2> kProfileKinds{{
    {ProfileKind::goroutine, "goroutine", "/debug/pprof/goroutine"},
    {ProfileKind::goroutineleak, "goroutineleak", "/debug/pprof/goroutineleak"},
}};

constexpr const ProfileKindInfo& profile_kind_info(ProfileKind kind) noexcept {
  return kind == ProfileKind::goroutineleak ? kProfileKinds[1] : kProfileKinds[0];
}
// "goroutine" or "goroutineleak": the profile's name in Go, in config files and in JSON.
constexpr std::string_view profile_kind_name(ProfileKind kind) noexcept { return profile_kind_info(kind).name; }
constexpr std::optional<ProfileKind> parse_profile_kind(std::string_view name) noexcept {
  for (const auto& k : kProfileKinds) {
    if (k.name == name) return k.kind;
  }
  return std::nullopt;
}

// The query that asks net/http/pprof for `format`, e.g. "?debug=1".
inline std::string debug_query(Format format) { return "?debug=" + std::to_string(debug_level(format)); }

// Frame::function of a PC the runtime could not symbolize (debug=1 "#\t0xPC" lines): such frames are
// kept so stacks that differ only there stay distinct. Their file is empty and line 0.
inline constexpr std::string_view kUnknownFunction = "?";

// function and file view strings owned by the Profile the frame came from (Profile::strings), or
// string literals; copy them into std::strings to keep them past the profile.
struct Frame {
  std::string_view function;  // e.g. "main.producer", "sync.(*Mutex).Lock"; kUnknownFunction if unsymbolized
  std::string_view file;      // as printed by the runtime, e.g. "/src/prog/main.go"
  std::uint32_t line = 0;

  friend bool operator==(const Frame&, const Frame&) = default;
};

using Labels = std::vector<std::pair<std::string, std::string>>;  // sorted by key, as Go prints them

// What the goroutines of a group are parked on, read from their leafward frames (reference section 7.4),
// so that every format that shows those frames agrees. debug=1 hides the leading runtime.* frames, so for
// channel and select waits it can only say `unknown`; signatures therefore never include the wait class.
enum class WaitClass : std::uint8_t {
  unknown,
  chan_send,
  chan_receive,
  select,
  select_no_cases,
  sync,     // sync.Mutex, RWMutex, WaitGroup, semaphores
  cond,     // sync.Cond.Wait
  io_wait,  // network or pipe I/O (netpoll)
  sleep,    // time.Sleep
  syscall,
  running,  // running or runnable: not parked at all
};

// A debug=2 state (wait reason or scheduler status, e.g. "chan send", "select", "running") and how many of
// the group's goroutines were in it.
struct StateCount {
  std::string state;
  std::uint64_t count = 0;

  friend bool operator==(const StateCount&, const StateCount&) = default;
};

// How long a group's goroutines have been blocked (debug=2 ", N minutes"), as counts per bucket. Bucket i
// counts goroutines with minutes <= kWaitMinuteBounds[i] (and above the previous bound); goroutines the
// runtime shows without minutes (blocked < 1 minute, or not waiting) count as 0 minutes.
inline constexpr std::array<std::uint32_t, 8> kWaitMinuteBounds{
    0, 1, 5, 15, 60, 240, 1440, std::numeric_limits<std::uint32_t>::max()};

struct WaitHistogram {
  std::array<std::uint64_t, kWaitMinuteBounds.size()> counts{};
  std::uint32_t max_minutes = 0;

  friend bool operator==(const WaitHistogram&, const WaitHistogram&) = default;
};

struct StackGroup {
  std::uint64_t count = 0;
  // Logical frames, leaf first: inlined calls expanded (debug=1 synthetic PCs, debug=2 "(...)" frames,
  // multi-line debug=0 locations all become one frame each), a final runtime.goexit dropped.
  std::vector<Frame> frames;
  Labels labels;
  std::optional<Frame> creator;    // debug=2 "created by" function and go statement location
  std::vector<StateCount> states;  // debug=2 only, most frequent first
  WaitHistogram wait_minutes;      // debug=2 only
  // debug=2 only: a uniform sample of the goroutines' IDs (IdSample). The runtime hands out IDs in
  // increasing order (from per-P batches of 16, so roughly in creation order): an ID at or below an older
  // dump's highest is a goroutine that was already there, which is how detection tells goroutines that
  // stay from ones that come and go when their waits restart too often for the minutes to say.
  std::vector<std::uint64_t> goroutine_ids;

  // Set by classify() (signature.hpp), identical for one stack whatever format it was read from.
  WaitClass wait_class = WaitClass::unknown;
  std::size_t leak_site = 0;    // index into frames of the frame an alert names
  std::uint64_t signature = 0;  // stable across samples, restarts, rebuilds and ASLR
};

// The sample in StackGroup::goroutine_ids: the kIdSample IDs whose mixed hash is smallest (a bottom-k
// sample: uniform over the group, the same whatever order the goroutines come in, and a merge of two is the
// sample of the union), kept as a heap. Bounded, so a million goroutines on one stack cost 512 bytes.
inline constexpr std::size_t kIdSample = 64;
void sample_goroutine_id(std::vector<std::uint64_t>& sample, std::uint64_t id);
// How many of a group's goroutines have an ID at or below `max_id`, estimated from its sample (exact while
// the group has at most kIdSample goroutines).
std::uint64_t goroutines_at_or_below(const StackGroup& group, std::uint64_t max_id) noexcept;

struct Profile {
  ProfileKind kind = ProfileKind::goroutine;
  std::uint64_t total = 0;             // the header's total (debug=1) or the number of goroutines read
  std::uint64_t max_goroutine_id = 0;  // debug=2 only: the highest goroutine ID read
  std::vector<StackGroup> groups;
  // A profile cut short (body truncated mid-group, a limit reached) keeps the complete groups it read and
  // says why here; empty when the whole profile was read.
  std::string truncation_reason;
  // Owns what the frames' (and creators') function and file view. Shared and immutable once parsed, so
  // a copied Profile, or one moved to another thread, keeps valid frames.
  std::shared_ptr<const StringPool> strings;

  bool truncated() const noexcept { return !truncation_reason.empty(); }
};

}  // namespace leakwatch::pprof
