#pragma once
// Reading a whole small file (a config, a target file, a token, a saved profile) with a size limit, the
// one way every module does it.

#include "leakwatch/common/error.hpp"

#include <cstdint>
#include <string>

namespace leakwatch::common {

// The file's bytes. Errors: not_found (no such file), too_large (more than `limit` bytes; the read stops
// there, so a huge or endless file such as /dev/zero costs at most `limit`), io (anything else, a directory
// included). Messages give the reason ("No such file or directory", "larger than 1024 bytes"); callers say
// which file it was, in their own words.
Result<std::string> read_file(const std::string& path, std::uint64_t limit);

}  // namespace leakwatch::common
