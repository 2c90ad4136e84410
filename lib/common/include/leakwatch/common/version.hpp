#pragma once

#include <string_view>

namespace leakwatch::common {

std::string_view version() noexcept;   // e.g. "0.1.0", from the CMake project version
std::string_view revision() noexcept;  // git revision the binary was built from, or "unknown"

}  // namespace leakwatch::common
