#pragma once
// `leakwatch replay DIR [--config.file=PATH] [--target NAME]`: feeds a directory of saved profiles through
// the daemon's own parse-and-detect path (pprof::parse, then detect::TargetDetector::observe), in time
// order, and prints one JSON object per alert state change. It is how detection quality is measured
// offline, so it is deterministic: same files, same settings, same output.

#include "leakwatch/detect/detector.hpp"
#include "leakwatch/detect/options.hpp"
#include "leakwatch/pprof/parser.hpp"

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace leakwatch::replay {

// A saved profile: `<unix_ms>.txt` (text, debug=1 or debug=2) or `<unix_ms>.pb.gz` (debug=0).
struct SavedProfile {
  std::int64_t t_ms = 0;
  std::filesystem::path path;
  std::optional<pprof::Format> format;  // debug0 for .pb.gz; nullopt for .txt (detected from the bytes)
};

// The directory's saved profiles in time order; other names are ignored. Two files with the same time
// (1.txt and 1.pb.gz) are an error, since their order would be arbitrary.
common::Result<std::vector<SavedProfile>> list_profiles(const std::filesystem::path& dir);

// One line of output: {"target":..,"t_ms":..,"scope":..,"function":..,"location":..,"state":..,
// "slope_per_min":..,"p_value":..}, function and location null for the total.
std::string event_json(const std::string& target, std::int64_t t_ms, const detect::Event& event);

struct Options {
  std::filesystem::path dir;
  std::string target;       // empty: the directory's base name
  std::string config_file;  // empty: the built-in defaults
};

// Runs the replay. Returns the exit code: 0 (events on `out`, one per line, nothing else), or 1 with a
// one-line "leakwatch replay: <reason>" on `err` (no such directory, bad config). A file that does not
// parse is skipped with a warning on `err`, as the daemon counts a failed poll and goes on.
int run(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace leakwatch::replay
