#pragma once
// Checks of single config values that need no YAML context (a target, a label name, ...). A failure's
// Error says what is wrong with the value; load.cpp adds the position and the job.

#include "leakwatch/common/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace leakwatch::config {

struct HostPort {
  std::string host;  // lowercased, without IPv6 brackets, so equal targets compare equal
  std::uint16_t port = 0;

  friend bool operator==(const HostPort&, const HostPort&) = default;
  friend auto operator<=>(const HostPort&, const HostPort&) = default;
};

// "host:port" or "[v6]:port", port 1..65535; no scheme, path or userinfo.
common::Result<HostPort> parse_target(std::string_view target);

// [a-zA-Z_][a-zA-Z0-9_]*, not "__"-prefixed, and not a name leakwatch or Prometheus sets itself.
common::Result<void> check_label_name(std::string_view name);

// Non-empty, valid UTF-8, no control characters: it becomes the `service` label value.
common::Result<void> check_job_name(std::string_view name);

// A file_sd path: globs only in the last element, ending in .json, .yml or .yaml (as Prometheus requires).
common::Result<void> check_sd_file_pattern(std::string_view path);

// kubernetes_sd api_server: http(s)://host[:port], no path, query or userinfo.
common::Result<void> check_api_server(std::string_view url);

// A Kubernetes namespace name (an RFC 1123 label).
common::Result<void> check_namespace(std::string_view name);

// `text` in double quotes for a message, with control bytes escaped and long values shortened, so a
// hostile or binary config cannot inject lines into the log.
std::string quote(std::string_view text);

// `text` with control bytes (and bytes of text that is not UTF-8) escaped as \xNN: for messages of other
// libraries that embed what they read, such as yaml-cpp's "unknown escape character: <the byte>".
std::string printable(std::string_view text);

}  // namespace leakwatch::config
