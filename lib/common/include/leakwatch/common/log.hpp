#pragma once
// Structured logging on spdlog: one line per event, in logfmt or JSON, with a component name and
// key=value fields (job=, target=, err=). Every module gets its logger with common::logger("scrape").

#include <spdlog/spdlog.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace leakwatch::common {

enum class LogFormat { logfmt, json };

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view text);
std::optional<LogFormat> parse_log_format(std::string_view text);

// Configures the process-wide sink (stderr), level and format. Safe to call again (e.g. in tests).
void setup_logging(spdlog::level::level_enum level, LogFormat format);

// The named logger for a component; created on first use with the configured sink.
std::shared_ptr<spdlog::logger> logger(const std::string& component);

using Field = std::pair<std::string_view, std::string_view>;

// Renders msg and fields in the configured format, e.g. logfmt: msg="poll failed" job=api err="timeout".
std::string render_fields(std::string_view msg, std::initializer_list<Field> fields);

// One structured event. The fields are rendered only if the level is enabled.
inline void log(spdlog::logger& l, spdlog::level::level_enum lvl, std::string_view msg,
                std::initializer_list<Field> fields = {}) {
  if (l.should_log(lvl)) l.log(lvl, "{}", render_fields(msg, fields));
}

}  // namespace leakwatch::common
