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
  std::size_t max_line_bytes = 1 << 20;  // a longer line is an error, not an allocation

  friend bool operator==(const Limits&, const Limits&) = default;
};

// Which format the bytes look like, from their first bytes; nullopt when none of the known ones.
std::optional<Format> detect_format(std::string_view bytes) noexcept;

// Parses a debug=1 profile ("goroutine profile: total N" followed by counted stack groups).
common::Result<Profile> parse_debug1(std::string_view bytes, const Limits& limits = {});

// Parses bytes in the given format; the scrape path calls this with the configured format.
common::Result<Profile> parse(std::string_view bytes, Format format, const Limits& limits = {});

}  // namespace leakwatch::pprof
