#include "leakwatch/common/file.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>

namespace leakwatch::common {

Result<std::string> read_file(const std::string& path, std::uint64_t limit) {
  const auto fail = [&](int err) {
    return Error(err == ENOENT ? Errc::not_found : Errc::io, std::error_code(err, std::generic_category()).message());
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return fail(errno);
  std::string out;
  std::array<char, 64 * 1024> buf{};
  while (true) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    if (out.size() + n > limit) {
      return Error(Errc::too_large, "larger than " + std::to_string(limit) + " bytes");
    }
    out.append(buf.data(), n);
    if (n < buf.size()) break;
  }
  // fopen succeeds on a directory; the read is what fails (EISDIR).
  if (std::ferror(f.get())) return fail(errno);
  return Result<std::string>(boost::system::in_place_value, std::move(out));
}

}  // namespace leakwatch::common
