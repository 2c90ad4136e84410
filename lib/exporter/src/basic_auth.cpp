#include "basic_auth.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <memory>

namespace leakwatch::exporter {
namespace asio = boost::asio;

namespace {

constexpr std::size_t kCacheEntries = 256;
constexpr int kMaxWaiting = 16;
constexpr std::size_t kBcryptMaxPassword = 72;
// A bcrypt hash (cost 10, as exporter-toolkit's) of a password nobody has: an unknown user costs what a
// known one does.
constexpr const char* kUnknownUserHash = "$2b$10$.19zhXu9PWyVas57cgoyW.DEf/vU8lBNs2LjPikehlM8cb822cjYC";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with padding, as RFC 7617 uses it.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = base64_value(c);
      if (v[j] < 0) return std::nullopt;
    }
    const unsigned n = (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::string cache_key(std::string_view user, std::string_view hash, std::string_view password) {
  // A digest, so the cache holds no password; NUL separators keep the three fields apart.
  std::string joined;
  joined.reserve(user.size() + hash.size() + password.size() + 2);
  joined.append(user).push_back('\0');
  joined.append(hash).push_back('\0');
  joined.append(password);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(joined.data(), joined.size(), md.data(), &len, EVP_sha256(), nullptr);
  OPENSSL_cleanse(joined.data(), joined.size());
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

// bcrypt on `pool`; the awaiting coroutine resumes on its own executor with the result. An ordinary function
// that passes the strings as arguments, not a lambda capturing them inside the co_await expression: GCC 12
// mishandles such captures in a coroutine frame (they were freed twice).
asio::awaitable<bool> bcrypt_on(asio::thread_pool& pool, std::string password, std::string hash) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(bool)>(
      [&pool](auto handler, std::string password, std::string hash) {
        // The work guard keeps the caller's executor running until the result is delivered to it.
        auto work = asio::make_work_guard(asio::get_associated_executor(handler));
        asio::post(pool, [handler = std::move(handler), work = std::move(work), password = std::move(password),
                          hash = std::move(hash)]() mutable {
          const bool matches = bcrypt_matches(password, hash);
          OPENSSL_cleanse(password.data(), password.size());
          auto executor = work.get_executor();
          asio::dispatch(executor, [handler = std::move(handler), matches]() mutable { handler(matches); });
          work.reset();
        });
      },
      asio::use_awaitable, std::move(password), std::move(hash));
}

}  // namespace

std::optional<Credentials> parse_basic_auth(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() < kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  header.remove_prefix(kScheme.size());
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  auto decoded = base64_decode(header);
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return Credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool bcrypt_matches(const std::string& password, const std::string& hash) {
  if (password.size() > kBcryptMaxPassword || password.find('\0') != std::string::npos) return false;
  auto data = std::make_unique<crypt_data>();  // ~32 KiB, zeroed: crypt_rn's required first state
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  const bool ok = out != nullptr && out[0] != '*' && std::string_view(out).size() == hash.size() &&
                  CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

PasswordCheck::PasswordCheck() = default;

PasswordCheck::~PasswordCheck() { bcrypt_thread_.join(); }

std::optional<bool> PasswordCheck::cached(const std::string& key) {
  std::lock_guard lock(mutex_);
  const auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

void PasswordCheck::remember(std::string key, bool ok) {
  std::lock_guard lock(mutex_);
  if (cache_.contains(key)) return;
  if (order_.size() >= kCacheEntries) {
    cache_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(key);
  cache_.emplace(std::move(key), ok);
}

asio::awaitable<PasswordCheck::Verdict>
PasswordCheck::check(const std::map<std::string, std::string, std::less<>>& users, Credentials credentials) {
  const auto it = users.find(credentials.user);
  const bool known = it != users.end();
  std::string hash = known ? it->second : kUnknownUserHash;
  std::string key = cache_key(credentials.user, hash, credentials.password);
  std::optional<bool> ok = cached(key);
  if (!ok) {
    if (waiting_.fetch_add(1) >= kMaxWaiting) {
      waiting_.fetch_sub(1);
      co_return Verdict::busy;
    }
    ok = co_await bcrypt_on(bcrypt_thread_, std::move(credentials.password), std::move(hash));
    waiting_.fetch_sub(1);
    remember(std::move(key), *ok);
  }
  co_return known&&* ok ? Verdict::ok : Verdict::denied;
}

}  // namespace leakwatch::exporter
