#include "leakwatch/common/version.hpp"

namespace leakwatch::common {

std::string_view version() noexcept { return LEAKWATCH_VERSION; }
std::string_view revision() noexcept { return LEAKWATCH_REVISION; }

}  // namespace leakwatch::common
