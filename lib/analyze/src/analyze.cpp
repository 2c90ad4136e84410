#include "leakwatch/analyze/analyze.hpp"

#include "escape.hpp"
#include "leakwatch/analyze/report.hpp"
#include "leakwatch/analyze/source.hpp"

#include <ostream>

namespace leakwatch::analyze {

bool parse_format_option(std::string_view name, std::optional<pprof::Format>& format) {
  if (name == "auto") {
    format.reset();
    return true;
  }
  format = pprof::parse_format_name(name);
  return format.has_value();
}

int run(const Options& options, std::istream& in, std::ostream& out, std::ostream& err) {
  const auto fail = [&](const common::Error& e) {
    // One line, whatever the parser or the network put into the message.
    err << "leakwatch analyze: " << detail::for_terminal(e.message) << '\n';
    return 1;
  };
  auto bytes = read_source(options.source, options.format, in, options.timeout, options.max_bytes);
  if (!bytes) return fail(bytes.error());
  pprof::Limits limits;
  limits.max_decompressed_bytes = options.max_bytes;
  auto report = make_report(*bytes, options.format, limits);
  if (!report) return fail(report.error());
  if (options.json) {
    out << render_json(*report);
  } else {
    out << render_text(*report, TextOptions{options.stacks, options.color});
  }
  out.flush();
  return out ? 0 : 1;
}

}  // namespace leakwatch::analyze
