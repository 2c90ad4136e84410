#include "leakwatch/detect/process.hpp"

namespace leakwatch::detect {

common::Result<Processed> process_profile(std::string_view bytes, const ProfileSettings& settings,
                                          TargetDetector& detector, double unix_seconds) {
  std::optional<pprof::Format> format = settings.format ? settings.format : pprof::detect_format(bytes);
  if (!format) {
    return common::Error(bytes.empty() ? "the body is empty" : "not a goroutine profile");
  }
  auto profile = pprof::parse(bytes, *format, settings.limits);
  if (!profile) return profile.error();
  if (profile->kind != settings.kind) {
    // A profile_path pointing at the other endpoint: its count means something else, so nothing is recorded.
    return common::Error("the body is a " + std::string(pprof::profile_kind_name(profile->kind)) +
                         " profile, but the job asks for profile: " +
                         std::string(pprof::profile_kind_name(settings.kind)));
  }
  Processed out;
  out.format = *format;
  out.goroutines = profile->total;
  out.groups = profile->groups.size();
  out.truncation_reason = profile->truncation_reason;
  out.events = detector.observe(unix_seconds, std::move(*profile));
  return out;
}

}  // namespace leakwatch::detect
