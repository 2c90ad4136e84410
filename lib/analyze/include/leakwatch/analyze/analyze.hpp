#pragma once
// `leakwatch analyze FILE|URL|- [--format auto|debug0|debug1|debug2] [--json] [--stacks]`: reads one
// goroutine profile, classifies and merges its stacks by signature (pprof/signature.hpp), and prints
// them largest first, as a table or as JSON. The daemon's main only parses the flags and calls run().

#include "leakwatch/pprof/profile.hpp"

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace leakwatch::analyze {

struct Options {
  std::string source;                   // a file, "-" for standard input, or an http:// or https:// URL
  std::optional<pprof::Format> format;  // nullopt: auto, detected from the bytes
  bool json = false;                    // a JSON document instead of the table
  bool stacks = false;                  // the table shows every group's full stack
  bool color = false;                   // bold header and leak sites; the caller decides (stdout a TTY)
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // a URL's whole fetch
  std::uint64_t max_bytes = 256ull << 20;                       // input limit: file, stdin, HTTP body, inflated debug=0
};

// "auto" (nullopt), "debug0", "debug1" or "debug2"; false for anything else.
bool parse_format_option(std::string_view name, std::optional<pprof::Format>& format);

// Reads, parses and prints. Returns the exit code: 0 with the report on `out`, or 1 with one line
// "leakwatch analyze: <reason>" on `err` (unreadable file, bad URL, fetch failure or non-200 status,
// unrecognised or unparsable profile). A truncated profile is still a success; the report says so.
int run(const Options& options, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace leakwatch::analyze
