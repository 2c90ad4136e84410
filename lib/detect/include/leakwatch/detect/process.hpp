#pragma once
// The one pure step from a profile's bytes to detection: parse in the configured (or detected) format, check
// that the profile is of the kind the job asks for, and feed it to the target's detector. The daemon's poll
// loop and `leakwatch replay` both call it, so the offline path cannot drift from the live one.

#include "leakwatch/common/error.hpp"
#include "leakwatch/detect/detector.hpp"
#include "leakwatch/pprof/parser.hpp"
#include "leakwatch/pprof/profile.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leakwatch::detect {

struct ProfileSettings {
  std::optional<pprof::Format> format;                      // nullopt: told from the bytes (replay's .txt files)
  pprof::ProfileKind kind = pprof::ProfileKind::goroutine;  // a profile of the other kind is an error
  pprof::Limits limits;
  // false: a debug=2 profile's wait evidence (states, minutes, goroutine IDs) is dropped, so the detector
  // sees what debug=1 would have shown (replay, for a saved debug=2 the daemon would not have asked for).
  bool wait_evidence = true;

  friend bool operator==(const ProfileSettings&, const ProfileSettings&) = default;
};

// What one processed profile showed.
struct Processed {
  pprof::Format format = pprof::Format::debug1;
  std::uint64_t goroutines = 0;
  std::size_t groups = 0;         // stack groups as parsed (before merging by signature)
  std::string truncation_reason;  // empty unless the parser hit a limit
  std::vector<Event> events;      // the alert state changes the sample caused
};

// Errors (Errc::invalid) say why the bytes were refused: not a goroutine profile, a parse error, or a
// profile of the other kind; the detector is then left as it was.
common::Result<Processed> process_profile(std::string_view bytes, const ProfileSettings& settings,
                                          TargetDetector& detector, double unix_seconds);

// The same for the runtime's proof beside a goroutine job: `bytes` must be a goroutineleak profile (in
// settings.format, or told from the bytes), and goes to detector.observe_leaked().
common::Result<Processed> process_leak_proof(std::string_view bytes, const ProfileSettings& settings,
                                             TargetDetector& detector, double unix_seconds);

}  // namespace leakwatch::detect
