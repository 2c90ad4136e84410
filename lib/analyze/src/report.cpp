#include "leakwatch/analyze/report.hpp"

#include "leakwatch/pprof/signature.hpp"

#include <string>
#include <utility>

namespace leakwatch::analyze {

common::Result<Report> make_report(std::string_view bytes, std::optional<pprof::Format> format,
                                   const pprof::Limits& limits) {
  if (!format) {
    format = pprof::detect_format(bytes);
    if (!format) {
      if (bytes.empty()) return common::Error{"the input is empty"};
      return common::Error{
          "not a goroutine profile (expected gzip'd profile.proto, \"goroutine profile: "
          "total N\" or \"goroutine N [state]:\" at the start)"};
    }
  }
  auto parsed = pprof::parse(bytes, *format, limits);
  if (!parsed) return common::Error{std::string(pprof::format_name(*format)) + ": " + parsed.error().message};
  Report report;
  report.format = *format;
  pprof::classify(*parsed);
  report.profile = pprof::merge_by_signature(std::move(*parsed));
  return report;
}

}  // namespace leakwatch::analyze
