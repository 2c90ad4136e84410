#include "leakwatch/common/duration.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace leakwatch::common {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t ms;
};

// Largest first: a duration lists its units in this order, each at most once (as Prometheus requires).
constexpr std::array<Unit, 7> kUnits{{{"y", 365LL * 24 * 3600 * 1000},
                                      {"w", 7LL * 24 * 3600 * 1000},
                                      {"d", 24LL * 3600 * 1000},
                                      {"h", 3600LL * 1000},
                                      {"m", 60LL * 1000},
                                      {"s", 1000},
                                      {"ms", 1}}};

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text == "0") return Duration{0};
  std::int64_t total = 0;
  std::size_t next_unit = 0;  // index in kUnits that the next component may use at the earliest
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n > (std::numeric_limits<std::int64_t>::max() - 9) / 10) return std::nullopt;
      n = n * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    std::size_t j = i;
    while (j < text.size() && !(text[j] >= '0' && text[j] <= '9')) ++j;
    const std::string_view unit = text.substr(i, j - i);
    i = j;
    std::size_t k = next_unit;
    while (k < kUnits.size() && kUnits[k].name != unit) ++k;
    if (k == kUnits.size()) return std::nullopt;
    if (n > std::numeric_limits<std::int64_t>::max() / kUnits[k].ms) return std::nullopt;
    const std::int64_t add = n * kUnits[k].ms;
    if (total > std::numeric_limits<std::int64_t>::max() - add) return std::nullopt;
    total += add;
    next_unit = k + 1;
  }
  return Duration{total};
}

std::string format_duration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  for (const Unit& u : kUnits) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms);
      out += u.name;
      ms %= u.ms;
    }
  }
  return out;
}

}  // namespace leakwatch::common
