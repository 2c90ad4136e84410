// The format dispatcher the scrape path calls with the configured format.

#include "leakwatch/pprof/parser.hpp"

#include <string>
#include <string_view>

namespace leakwatch::pprof {
common::Result<Profile> parse(std::string_view bytes, Format format, const Limits& limits) {
  // A body that clearly is another format means the target's URL and its configured format disagree;
  // saying so beats the parser's "line 1: expected ..." that would follow. Unrecognised bodies (empty,
  // garbage, HTML) go to the configured parser, whose error names the offending line.
  if (const auto seen = detect_format(bytes); seen && *seen != format) {
    return common::Error{"configured format " + std::string{format_name(format)} + " but the body looks like " +
                         std::string{format_name(*seen)}};
  }
  switch (format) {
    case Format::debug1: return parse_debug1(bytes, limits);
    case Format::debug2: return parse_debug2(bytes, limits);
    case Format::debug0: return parse_debug0(bytes, limits);
  }
  return common::Error{"unknown profile format"};  // unreachable: the switch covers every Format
}

}  // namespace leakwatch::pprof
