#pragma once
// Byte sizes as in Prometheus' body_size_limit: "64MiB", "512KiB", "1GB", "1024B", or a bare byte count.

#include <cstdint>
#include <optional>
#include <string_view>

namespace leakwatch::common {

std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace leakwatch::common
