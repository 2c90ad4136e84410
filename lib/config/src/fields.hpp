#pragma once
// Reading YAML fields with positions: the building blocks both config files (the main config and the web
// config) are decoded with. Every problem becomes a Diagnostic at the key or value it is about; a field that
// is absent or null keeps its default, as Go's yaml does. Internal to lib/config (yaml-cpp is used nowhere
// else).

#include "checks.hpp"
#include "leakwatch/common/duration.hpp"
#include "leakwatch/common/size.hpp"
#include "leakwatch/config/load.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace leakwatch::config::fields {

using common::Duration;

constexpr std::string_view kDurationHint =
    "expected a number with a unit (ms, s, m, h, d, w, y), largest unit first, e.g. 15s or 1m30s";
constexpr std::string_view kSizeHint =
    "expected a byte count with an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 64MiB";

struct Position {
  int line = 0;  // 1-based; 0 = unknown
  int column = 0;
};

inline Position position_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.is_null() || m.line < 0 || m.column < 0) return {};
  return {m.line + 1, m.column + 1};
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) { return a.size() == b.size() && lower(a) == lower(b); }

inline std::string trim(std::string_view s) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// An HTTP token (RFC 9110 section 5.6.2): a header name or an authentication scheme.
inline bool is_token(std::string_view s) {
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || kExtra.find(c) != std::string_view::npos;
  });
}

inline std::string at(Position p) { return "line " + std::to_string(p.line) + ", column " + std::to_string(p.column); }

inline std::string join(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

inline std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return quote(n.Scalar());
    case YAML::NodeType::Sequence: return "a sequence";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

struct Entry {
  std::string name;
  YAML::Node key;
  YAML::Node value;
};

// A field's outcome: absent or null keeps the default (as Go's yaml does); `bad` means it was reported.
template <class T>
struct Read {
  std::optional<T> value;
  bool bad = false;
};

// The field readers, over one file's diagnostics. A decoder derives from it.
class FieldReader {
 public:
  FieldReader(const std::string& file, std::vector<Diagnostic>& out) : file_(file), out_(out) {}

 protected:
  void error(Position p, std::string message) { out_.push_back({file_, p.line, p.column, std::move(message)}); }

  // Where to report a problem with a value. `key:` followed by nothing is a null node positioned at the next
  // token (often the next line), so point at the key instead.
  static Position value_position(const Entry& e) {
    return e.value.IsNull() ? position_of(e.key) : position_of(e.value);
  }

  // The pairs of a mapping in document order; duplicate keys (which yaml-cpp keeps) and non-string keys are
  // reported and dropped.
  std::vector<Entry> entries(const YAML::Node& map, const std::string& prefix) {
    std::vector<Entry> out;
    std::map<std::string, Position, std::less<>> first;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        error(position_of(key), prefix + "keys must be strings, got " + describe(key));
        continue;
      }
      const std::string& name = key.Scalar();
      const auto [pos, inserted] = first.emplace(name, position_of(key));
      if (!inserted) {
        error(position_of(key), prefix + "duplicate key " + quote(name) + "; first defined at " + at(pos->second));
        continue;
      }
      out.push_back({name, key, it->second});
    }
    return out;
  }

  // Rejects keys not in `allowed`, at the key: a typo must not silently leave a default in place.
  std::vector<Entry> known(std::vector<Entry> es, std::span<const std::string_view> allowed,
                           const std::string& prefix) {
    std::erase_if(es, [&](const Entry& e) {
      if (std::find(allowed.begin(), allowed.end(), e.name) != allowed.end()) return false;
      error(position_of(e.key), prefix + "unknown key " + quote(e.name) + "; allowed: " + join(allowed));
      return true;
    });
    return es;
  }

  bool expect(const Entry& e, YAML::NodeType::value type, std::string_view what, const std::string& prefix) {
    if (e.value.Type() == type) return true;
    error(value_position(e), prefix + e.name + ": expected " + std::string(what) + ", got " + describe(e.value));
    return false;
  }

  Read<std::string> string_field(const Entry& e, const std::string& prefix) {
    if (e.value.IsNull()) return {};
    if (!expect(e, YAML::NodeType::Scalar, "a string", prefix)) return {std::nullopt, true};
    return {e.value.Scalar(), false};
  }

  Read<Duration> duration_field(const Entry& e, const std::string& prefix) {
    if (e.value.IsNull()) return {};
    if (!expect(e, YAML::NodeType::Scalar, "a duration such as 15s", prefix)) return {std::nullopt, true};
    const std::optional<Duration> d = common::parse_duration(e.value.Scalar());
    if (!d) {
      error(value_position(e),
            prefix + e.name + ": invalid duration " + quote(e.value.Scalar()) + "; " + std::string(kDurationHint));
      return {std::nullopt, true};
    }
    if (d->count() <= 0) {
      error(value_position(e), prefix + e.name + ": must be greater than 0");
      return {std::nullopt, true};
    }
    return {d, false};
  }

  Read<std::uint64_t> size_field(const Entry& e, const std::string& prefix) {
    if (e.value.IsNull()) return {};
    if (!expect(e, YAML::NodeType::Scalar, "a size such as 64MiB", prefix)) return {std::nullopt, true};
    const std::optional<std::uint64_t> n = common::parse_size(e.value.Scalar());
    if (!n) {
      error(value_position(e),
            prefix + e.name + ": invalid size " + quote(e.value.Scalar()) + "; " + std::string(kSizeHint));
      return {std::nullopt, true};
    }
    if (*n == 0) {
      error(value_position(e), prefix + e.name + ": must be greater than 0");
      return {std::nullopt, true};
    }
    return {n, false};
  }

  // A whole number in [1, max]: limits that protect the daemon from hostile profiles.
  Read<std::uint64_t> count_field(const Entry& e, std::uint64_t max, const std::string& prefix) {
    if (e.value.IsNull()) return {};
    if (!expect(e, YAML::NodeType::Scalar, "a whole number", prefix)) return {std::nullopt, true};
    const std::string& text = e.value.Scalar();
    std::uint64_t n = 0;
    bool ok = !text.empty() && text.size() <= 12;
    for (char c : text) {
      if (c < '0' || c > '9') ok = false;
      if (ok) n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!ok || n == 0 || n > max) {
      error(value_position(e),
            prefix + e.name + ": expected a whole number from 1 to " + std::to_string(max) + ", got " + quote(text));
      return {std::nullopt, true};
    }
    return {n, false};
  }

  // Only true and false (any case): YAML 1.1's yes/no/on/off are a classic source of surprises.
  Read<bool> bool_field(const Entry& e, const std::string& prefix) {
    if (e.value.IsNull()) return {};
    if (e.value.IsScalar()) {
      std::string v = e.value.Scalar();
      std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (v == "true") return {true, false};
      if (v == "false") return {false, false};
    }
    error(value_position(e), prefix + e.name + ": expected true or false, got " + describe(e.value));
    return {std::nullopt, true};
  }

  // A string from a fixed set, e.g. scheme: http | https.
  template <class T, std::size_t N>
  Read<T> enum_field(const Entry& e, const std::array<std::pair<std::string_view, T>, N>& values,
                     const std::string& prefix) {
    const Read<std::string> s = string_field(e, prefix);
    if (!s.value) return {std::nullopt, s.bad};
    for (const auto& [name, value] : values) {
      if (*s.value == name) return {value, false};
    }
    std::string allowed;
    for (const auto& [name, value] : values) allowed += (allowed.empty() ? "" : ", ") + std::string(name);
    error(value_position(e), prefix + e.name + ": invalid value " + quote(*s.value) + "; allowed: " + allowed);
    return {std::nullopt, true};
  }

  // A duration that may be 0 (for: 0s fires at once, warmup: 0s disables the grace).
  Read<Duration> duration_or_zero_field(const Entry& e, const std::string& prefix) {
    if (e.value.IsNull()) return {};
    if (!expect(e, YAML::NodeType::Scalar, "a duration such as 15s", prefix)) return {std::nullopt, true};
    const std::optional<Duration> d = common::parse_duration(e.value.Scalar());
    if (!d) {
      error(value_position(e),
            prefix + e.name + ": invalid duration " + quote(e.value.Scalar()) + "; " + std::string(kDurationHint));
      return {std::nullopt, true};
    }
    return {d, false};
  }

  // A decimal number in [min, max], e.g. p_value: 0.01.
  Read<double> number_field(const Entry& e, double min, double max, const std::string& prefix) {
    if (e.value.IsNull()) return {};
    if (!expect(e, YAML::NodeType::Scalar, "a number", prefix)) return {std::nullopt, true};
    const std::string& text = e.value.Scalar();
    double v = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(v) || v < min || v > max) {
      std::ostringstream range;
      range << min << " to " << max;
      error(value_position(e), prefix + e.name + ": expected a number from " + range.str() + ", got " + quote(text));
      return {std::nullopt, true};
    }
    return {v, false};
  }

  // A sequence of non-empty strings.
  Read<std::vector<std::string>> string_list_field(const Entry& e, const std::string& prefix) {
    if (e.value.IsNull()) return {};
    if (!expect(e, YAML::NodeType::Sequence, "a sequence of strings", prefix)) return {std::nullopt, true};
    std::vector<std::string> out;
    bool bad = false;
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
      if (!it->IsScalar() || it->Scalar().empty()) {
        error(position_of(*it), prefix + e.name + ": expected a non-empty string, got " + describe(*it));
        bad = true;
        continue;
      }
      out.push_back(it->Scalar());
    }
    if (bad) return {std::nullopt, true};
    return {std::move(out), false};
  }

  const std::string& file_;
  std::vector<Diagnostic>& out_;
};

// Parses one YAML document and hands its root to `decode`; yaml-cpp reports problems by throwing, and this
// is the edge where they become diagnostics. The diagnostics come back in file order.
void decode_document(std::string_view yaml, const std::string& file, std::vector<Diagnostic>& diagnostics,
                     const std::function<void(const YAML::Node&)>& decode);

}  // namespace leakwatch::config::fields
