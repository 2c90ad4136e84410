#include "checks.hpp"

#include "leakwatch/config/config.hpp"

#include "leakwatch/common/utf8.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace leakwatch::config {
namespace {

// Labels leakwatch puts on its own series (service, target, result, function, location, signature, evidence,
// profile, format), the build info's (version, revision), Prometheus' target labels (job, instance) and
// histogram/summary bucket labels (le, quantile). A user label with one of these names would clash with or
// shadow them.
constexpr std::array<std::string_view, 15> kReservedLabels{"service",  "target",   "job",       "instance", "result",
                                                           "function", "location", "signature", "evidence", "profile",
                                                           "format",   "version",  "revision",  "le",       "quantile"};

// Long values are cut in messages: the position already identifies them.
constexpr std::size_t kMaxQuoted = 64;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c == ' ' || is_control(static_cast<unsigned char>(c)); });
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

common::Error problem(std::string message) { return common::Error{std::move(message)}; }

// Appends `text` with control bytes (and, in text that is not UTF-8, every byte above 0x7f) as \xNN, and
// with `"` and `\` escaped when `quotes`.
void append_escaped(std::string& out, std::string_view text, bool quotes) {
  // Bytes that are not UTF-8 are escaped too, so a message is always valid UTF-8 (log lines may be JSON).
  const bool utf8 = common::is_valid_utf8(text);
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (quotes && (c == '"' || c == '\\')) {
      out += '\\';
      out += c;
    } else if (is_control(u) || (!utf8 && u >= 0x80)) {
      std::array<char, 5> buf{};
      std::snprintf(buf.data(), buf.size(), "\\x%02x", u);
      out += buf.data();
    } else {
      out += c;
    }
  }
}

}  // namespace

std::string quote(std::string_view text) {
  std::size_t keep = std::min(text.size(), kMaxQuoted);
  // Cut at a character boundary, not inside a multi-byte UTF-8 sequence.
  while (keep < text.size() && keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xc0) == 0x80) --keep;
  std::string out = "\"";
  append_escaped(out, text.substr(0, keep), true);
  out += keep < text.size() ? "\"..." : "\"";
  return out;
}

std::string printable(std::string_view text) {
  std::string out;
  append_escaped(out, text, false);
  return out;
}

common::Result<HostPort> parse_target(std::string_view target) {
  const std::string q = quote(target);
  if (target.empty()) return problem("target must not be empty");
  if (target.find("://") != std::string_view::npos) {
    return problem("target " + q + " must not include a scheme; write host:port and set the job's scheme");
  }
  if (target.find('/') != std::string_view::npos) {
    return problem("target " + q + " must not include a path; write host:port and set the job's profile_path");
  }
  if (has_space_or_control(target)) return problem("target " + q + " must not contain spaces or control characters");

  std::string_view host;
  std::string_view port;
  if (target.front() == '[') {
    const auto close = target.find(']');
    if (close == std::string_view::npos) return problem("target " + q + " has an unclosed '[' around its IPv6 address");
    host = target.substr(1, close - 1);
    const std::string_view rest = target.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return problem("target " + q + " has no port; write host:port, e.g. [::1]:6060");
    }
    port = rest.substr(1);
    // Hex groups, colons, an embedded IPv4 tail, and an optional %zone (e.g. fe80::1%eth0).
    const auto zone = host.find('%');
    const std::string_view addr = host.substr(0, zone);
    const bool addr_ok = !addr.empty() && addr.find(':') != std::string_view::npos &&
                         std::all_of(addr.begin(), addr.end(),
                                     [](char c) { return is_hex(c) || c == ':' || c == '.'; });
    const bool zone_ok = zone == std::string_view::npos ||
                         (zone + 1 < host.size() &&
                          std::all_of(host.begin() + static_cast<std::ptrdiff_t>(zone) + 1, host.end(), [](char c) {
                            return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.';
                          }));
    if (!addr_ok || !zone_ok) return problem("target " + q + " has an invalid IPv6 address in brackets");
  } else {
    const auto colon = target.rfind(':');
    if (colon == std::string_view::npos) {
      return problem("target " + q + " has no port; write host:port, e.g. localhost:6060");
    }
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return problem("target " + q + ": an IPv6 address must be in brackets, e.g. [::1]:6060");
    }
    if (host.empty()) return problem("target " + q + " has no host; write host:port");
    // Hostnames and IPv4 literals; '_' is allowed because it is common in container and service names.
    if (!std::all_of(host.begin(), host.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_'; })) {
      return problem("target " + q + " has an invalid host; use a hostname, an IPv4 address or [IPv6]");
    }
  }

  std::uint32_t n = 0;
  const bool digits_ok = !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), is_digit);
  if (digits_ok) {
    for (char c : port) n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (!digits_ok || n < 1 || n > 65535) {
    return problem("target " + q + " has an invalid port " + quote(port) + "; ports are 1..65535");
  }

  HostPort hp;
  hp.host.reserve(host.size());
  for (char c : host) hp.host += lower(c);
  hp.port = static_cast<std::uint16_t>(n);
  return hp;
}

common::Result<void> check_label_name(std::string_view name) {
  const std::string q = quote(name);
  const bool syntax_ok = !name.empty() && (is_alpha(name.front()) || name.front() == '_') &&
                         std::all_of(name.begin(), name.end(),
                                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
  if (!syntax_ok) return problem("label name " + q + " is invalid; names must match [a-zA-Z_][a-zA-Z0-9_]*");
  if (name.starts_with("__")) {
    return problem("label name " + q + " is reserved; names starting with \"__\" are internal");
  }
  if (std::find(kReservedLabels.begin(), kReservedLabels.end(), name) != kReservedLabels.end()) {
    return problem("label name " + q + " is reserved; leakwatch or Prometheus sets it");
  }
  return {};
}

common::Result<void> check_job_name(std::string_view name) {
  if (name.empty()) return problem("job_name must not be empty");
  if (!common::is_valid_utf8(name)) return problem("job_name " + quote(name) + " is not valid UTF-8");
  if (std::any_of(name.begin(), name.end(), [](char c) { return is_control(static_cast<unsigned char>(c)); })) {
    return problem("job_name " + quote(name) + " must not contain control characters");
  }
  return {};
}

common::Result<void> check_profile_path(std::string_view path) {
  const std::string q = quote(path);
  if (path.empty() || path.front() != '/') return problem("profile_path " + q + " must start with '/'");
  if (path.find('?') != std::string_view::npos) {
    return problem("profile_path " + q + " must not contain a query; use format: to choose ?debug=N");
  }
  if (path.find('#') != std::string_view::npos) return problem("profile_path " + q + " must not contain '#'");
  if (has_space_or_control(path)) {
    return problem("profile_path " + q + " must not contain spaces or control characters");
  }
  return {};
}

common::Result<void> check_sd_file_pattern(std::string_view path) {
  const std::string q = quote(path);
  if (!common::is_valid_utf8(path) ||
      std::any_of(path.begin(), path.end(), [](char c) { return is_control(static_cast<unsigned char>(c)); })) {
    return problem(q + " must be valid UTF-8 without control characters");
  }
  const std::size_t slash = path.rfind('/');
  const std::string_view dir = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (dir.find_first_of("*?[") != std::string_view::npos) {
    return problem(q + ": only the last path element may contain a glob (*, ?, [...])");
  }
  if (!name.ends_with(".json") && !name.ends_with(".yml") && !name.ends_with(".yaml")) {
    return problem(q + " must end in .json, .yml or .yaml");
  }
  return {};
}

common::Result<void> check_api_server(std::string_view url) {
  const std::string q = quote(url);
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return problem("api_server " + q + " must be an http:// or https:// URL, e.g. https://10.0.0.1:6443");
  }
  while (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@") != std::string_view::npos || has_space_or_control(rest)) {
    return problem("api_server " + q + " must be scheme://host[:port] with no path, e.g. https://10.0.0.1:6443");
  }
  return {};
}

common::Result<void> check_namespace(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= 63 && name.front() != '-' && name.back() != '-' &&
                  std::all_of(name.begin(), name.end(),
                              [](char c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-'; });
  if (!ok) {
    return problem("namespace " + quote(name) +
                   " is invalid; names are at most 63 lowercase letters, digits and '-', starting and ending "
                   "with a letter or digit");
  }
  return {};
}

}  // namespace leakwatch::config
