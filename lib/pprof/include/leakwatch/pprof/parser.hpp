#pragma once
// Parsers turn the bytes of one goroutine profile into a Profile. They are pure: no I/O, no clocks, no
// globals; the scrape path and `leakwatch analyze` call the same functions.

#include "leakwatch/common/error.hpp"
#include "leakwatch/pprof/profile.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace leakwatch::pprof {

// Hard limits that keep a hostile or broken profile from costing unbounded memory or time.
struct Limits {
  std::size_t max_frames_per_stack = 1024;
  std::size_t max_groups = 100'000;
  std::size_t max_line_bytes = 1 << 20;                 // a longer line is an error, not an allocation
  std::uint64_t max_decompressed_bytes = 256ull << 20;  // debug=0: inflating past this is an error

  friend bool operator==(const Limits&, const Limits&) = default;
};

// Which format the bytes look like, from their first bytes; nullopt when none of the known ones.
std::optional<Format> detect_format(std::string_view bytes) noexcept;

// Parses a debug=1 profile ("goroutine profile: total N" followed by counted stack groups).
common::Result<Profile> parse_debug1(std::string_view bytes, const Limits& limits = {});

// Parses a debug=2 dump ("goroutine N [state]:" records), grouping goroutines by stack and labels.
common::Result<Profile> parse_debug2(std::string_view bytes, const Limits& limits = {});

// Parses a debug=0 profile: gzip-compressed profile.proto (also accepts it already inflated).
common::Result<Profile> parse_debug0(std::string_view bytes, const Limits& limits = {});

// Parses bytes in the given format; the scrape path calls this with the configured format.
common::Result<Profile> parse(std::string_view bytes, Format format, const Limits& limits = {});

}  // namespace leakwatch::pprof
