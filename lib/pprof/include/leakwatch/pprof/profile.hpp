#pragma once
// The one model every goroutine-profile format is parsed into. Memory grows with distinct stacks, never
// with goroutines: a group holds a count, not a list.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace leakwatch::pprof {

enum class Format { debug0, debug1, debug2 };

// Which runtime profile the bytes came from ("goroutine profile: total N" vs "goroutineleak profile: ...").
enum class ProfileKind { goroutine, goroutineleak };

// Frame::function of a PC the runtime could not symbolize (debug=1 "#\t0xPC" lines): such frames are
// kept so stacks that differ only there stay distinct. Their file is empty and line 0.
inline constexpr std::string_view kUnknownFunction = "?";

struct Frame {
  std::string function;  // e.g. "main.producer", "sync.(*Mutex).Lock"; kUnknownFunction if unsymbolized
  std::string file;      // as printed by the runtime, e.g. "/src/prog/main.go"
  std::uint32_t line = 0;

  friend bool operator==(const Frame&, const Frame&) = default;
};

using Labels = std::vector<std::pair<std::string, std::string>>;  // sorted by key, as Go prints them

struct StackGroup {
  std::uint64_t count = 0;
  std::vector<Frame> frames;  // leaf first
  Labels labels;
};

struct Profile {
  ProfileKind kind = ProfileKind::goroutine;
  std::uint64_t total = 0;  // the header's total (debug=1) or the number of goroutines read
  std::vector<StackGroup> groups;
  // A profile cut short (body truncated mid-group, a limit reached) keeps the complete groups it read and
  // says why here; empty when the whole profile was read.
  std::string truncation_reason;

  bool truncated() const noexcept { return !truncation_reason.empty(); }
};

}  // namespace leakwatch::pprof
