#pragma once
// What `leakwatch analyze` prints: a profile classified and merged by signature, as an aligned table
// (optionally with stacks) or as a JSON document.

#include "leakwatch/common/error.hpp"
#include "leakwatch/pprof/parser.hpp"
#include "leakwatch/pprof/profile.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace leakwatch::analyze {

struct Report {
  pprof::Format format = pprof::Format::debug1;  // the format parsed (detected or requested)
  pprof::Profile profile;                        // classify()'d, then merge_by_signature()'d
};

// Parses `bytes` as `format` (nullopt: detect_format; an unrecognised body is an error), then classifies
// and merges. Errors are parse errors, worded for a person.
common::Result<Report> make_report(std::string_view bytes, std::optional<pprof::Format> format,
                                   const pprof::Limits& limits = {});

struct TextOptions {
  bool stacks = false;
  bool color = false;
};

// A header line (kind, format, goroutines, groups; then a "truncated: ..." line if so), a column header
// and one row per group: COUNT, SIGNATURE, STATE (debug=2 states, else the wait class), WAIT (debug=2 only:
// the longest wait), LEAK SITE (function) and its file:line. With `stacks`, each row is followed by the
// group's frames, leaf first, the leak site marked with '>', then "created by" and labels when known.
// Names and labels from the profile are escaped: no control characters reach the terminal.
std::string render_text(const Report& report, const TextOptions& options = {});

// {"total", "format", "kind", "truncated", "truncation_reason", "groups": [{"count", "signature" (16 hex
// digits), "leak_site": {"function", "file", "line"}, "wait_class", "frames": [...], "creator" (object or
// null), "states": {state: count}, "max_wait_minutes" (null unless debug=2), "labels": {key: value}}]},
// on one line with a final newline. Strings that are not valid UTF-8 get U+FFFD for the bad bytes.
std::string render_json(const Report& report);

}  // namespace leakwatch::analyze
