#include "leakwatch/detect/process.hpp"

namespace leakwatch::detect {
namespace {

common::Result<pprof::Profile> parse_checked(std::string_view bytes, const ProfileSettings& settings,
                                             pprof::ProfileKind kind, Processed& out) {
  std::optional<pprof::Format> format = settings.format ? settings.format : pprof::detect_format(bytes);
  if (!format) {
    return common::Error(bytes.empty() ? "the body is empty" : "not a goroutine profile");
  }
  auto profile = pprof::parse(bytes, *format, settings.limits);
  if (!profile) return profile.error();
  if (profile->kind != kind) {
    // A path pointing at the other endpoint: its count means something else, so nothing is recorded.
    return common::Error("the body is a " + std::string(pprof::profile_kind_name(profile->kind)) + " profile, but a " +
                         std::string(pprof::profile_kind_name(kind)) + " profile was asked for");
  }
  out.format = *format;
  out.goroutines = profile->total;
  out.groups = profile->groups.size();
  out.truncation_reason = profile->truncation_reason;
  return profile;
}

}  // namespace

common::Result<Processed> process_profile(std::string_view bytes, const ProfileSettings& settings,
                                          TargetDetector& detector, double unix_seconds) {
  Processed out;
  auto profile = parse_checked(bytes, settings, settings.kind, out);
  if (!profile) return profile.error();
  if (!settings.wait_evidence) {
    profile->max_goroutine_id = 0;
    for (pprof::StackGroup& g : profile->groups) {
      g.states.clear();
      g.wait_minutes = {};
      g.goroutine_ids.clear();
    }
  }
  out.events = detector.observe(unix_seconds, std::move(*profile));
  return out;
}

common::Result<Processed> process_leak_proof(std::string_view bytes, const ProfileSettings& settings,
                                             TargetDetector& detector, double unix_seconds) {
  Processed out;
  auto profile = parse_checked(bytes, settings, pprof::ProfileKind::goroutineleak, out);
  if (!profile) return profile.error();
  out.events = detector.observe_leaked(unix_seconds, std::move(*profile));
  return out;
}

}  // namespace leakwatch::detect
