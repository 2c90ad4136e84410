#include "leakwatch/http/auth.hpp"

#include "leakwatch/common/file.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace leakwatch::http {
namespace {

// A token or password file is a few hundred bytes; a larger one is not a secret file (or is /dev/zero).
constexpr std::uint64_t kMaxSecretFileBytes = 64 << 10;

std::string trimmed(std::string_view s) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::string base64(std::string_view in) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16 |
                   static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8 |
                   static_cast<unsigned>(static_cast<unsigned char>(in[i + 2]));
    out += kDigits[n >> 18 & 63];
    out += kDigits[n >> 12 & 63];
    out += kDigits[n >> 6 & 63];
    out += kDigits[n & 63];
  }
  if (const std::size_t rest = in.size() - i; rest > 0) {
    unsigned n = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kDigits[n >> 18 & 63];
    out += kDigits[n >> 12 & 63];
    out += rest == 2 ? kDigits[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

bool breaks_header(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace

common::Result<std::string> RequestAuth::read(const std::string& path, const char* what) {
  const auto fail = [&](const std::string& why) {
    files_.erase(path);  // a file that came back is read afresh
    return common::Error(common::Errc::io, std::string(what) + " " + path + ": " + why);
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(std::strerror(errno));
  Cached now;
  now.device = st.st_dev;
  now.inode = st.st_ino;
  now.size = static_cast<unsigned long long>(st.st_size);
  now.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (auto it = files_.find(path); it != files_.end() && it->second.device == now.device &&
                                   it->second.inode == now.inode && it->second.size == now.size &&
                                   it->second.mtime_ns == now.mtime_ns) {
    return common::Result<std::string>(boost::system::in_place_value, it->second.content);
  }
  auto bytes = common::read_file(path, kMaxSecretFileBytes);
  if (!bytes) return fail(bytes.error().message);
  now.content = trimmed(*bytes);
  if (breaks_header(now.content)) return fail("holds a line break or NUL (a header value cannot)");
  return common::Result<std::string>(boost::system::in_place_value,
                                     files_.insert_or_assign(path, std::move(now)).first->second.content);
}

common::Result<std::string> RequestAuth::resolve(const Secret& s, const char* what) {
  if (s.file.empty()) return common::Result<std::string>(boost::system::in_place_value, s.value);
  return read(s.file, what);
}

common::Result<void> RequestAuth::add_to(HeaderFields& fields) {
  if (settings_.basic) {
    auto user = resolve(settings_.basic->username, "basic_auth username_file");
    if (!user) return user.error();
    auto pass = resolve(settings_.basic->password, "basic_auth password_file");
    if (!pass) return pass.error();
    fields.emplace_back("Authorization", "Basic " + base64(*user + ":" + *pass));
  } else if (settings_.authorization) {
    auto credentials = resolve(settings_.authorization->credentials, "authorization credentials_file");
    if (!credentials) return credentials.error();
    fields.emplace_back("Authorization", settings_.authorization->type + " " + *credentials);
  }
  for (const HeaderSetting& h : settings_.headers) {
    for (const std::string& v : h.values) fields.emplace_back(h.name, v);
    for (const std::string& v : h.secrets) fields.emplace_back(h.name, v);
    for (const std::string& f : h.files) {
      auto v = read(f, "http_headers file");
      if (!v) return v.error();
      fields.emplace_back(h.name, std::move(*v));
    }
  }
  return {};
}

}  // namespace leakwatch::http
