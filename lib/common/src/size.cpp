#include "leakwatch/common/size.hpp"

#include <array>
#include <limits>

namespace leakwatch::common {
namespace {

struct Unit {
  std::string_view name;
  std::uint64_t bytes;
};

constexpr std::array<Unit, 13> kUnits{{{"B", 1},
                                       {"KB", 1000ull},
                                       {"MB", 1000ull * 1000},
                                       {"GB", 1000ull * 1000 * 1000},
                                       {"TB", 1000ull * 1000 * 1000 * 1000},
                                       {"KiB", 1ull << 10},
                                       {"MiB", 1ull << 20},
                                       {"GiB", 1ull << 30},
                                       {"TiB", 1ull << 40},
                                       {"K", 1ull << 10},
                                       {"M", 1ull << 20},
                                       {"G", 1ull << 30},
                                       {"T", 1ull << 40}}};

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (n > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
    ++i;
  }
  if (i == 0) return std::nullopt;
  const std::string_view unit = text.substr(i);
  if (unit.empty()) return n;
  for (const Unit& u : kUnits) {
    if (u.name == unit) {
      if (n > std::numeric_limits<std::uint64_t>::max() / u.bytes) return std::nullopt;
      return n * u.bytes;
    }
  }
  return std::nullopt;
}

}  // namespace leakwatch::common
