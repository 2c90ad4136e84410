#pragma once
// Prometheus-style durations: "15s", "1m30s", "250ms", "2h", "1d", "1w" (units ms s m h d w y, largest first).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace leakwatch::common {

using Duration = std::chrono::milliseconds;

// nullopt when the text is not a valid duration (empty, unknown unit, units out of order, overflow).
std::optional<Duration> parse_duration(std::string_view text);

// Shortest Prometheus form: 90000ms -> "1m30s", 0 -> "0s".
std::string format_duration(Duration d);

}  // namespace leakwatch::common
