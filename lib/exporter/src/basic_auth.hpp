#pragma once
// Basic authentication for leakwatch's own port (the web config's basic_auth_users), as exporter-toolkit
// does it: bcrypt hashes checked with libxcrypt, results cached so a scraper pays bcrypt once, an unknown
// user checked against a fixed hash so timing does not tell which users exist. bcrypt is slow on purpose
// (~50 ms at cost 10), so it runs on its own thread, never on the io_context's threads that run the polls.
// Internal to lib/exporter.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace leakwatch::exporter {

struct Credentials {
  std::string user;
  std::string password;
};

// An `Authorization: Basic <base64(user:password)>` header value (the scheme in any case); nullopt when it is
// not one or its base64 is malformed.
std::optional<Credentials> parse_basic_auth(std::string_view header);

// Whether `password` hashes to `hash` (a bcrypt hash): libxcrypt's crypt_rn and a constant-time compare.
// False for a password bcrypt would truncate (over 72 bytes) or that holds a NUL byte.
bool bcrypt_matches(const std::string& password, const std::string& hash);

class PasswordCheck {
 public:
  enum class Verdict { ok, denied, busy };

  PasswordCheck();
  ~PasswordCheck();
  PasswordCheck(const PasswordCheck&) = delete;
  PasswordCheck& operator=(const PasswordCheck&) = delete;

  // Checks `credentials` against `users` (name → bcrypt hash). `busy` when too many uncached checks already
  // wait for the bcrypt thread (a flood of wrong passwords): the request is refused rather than queued.
  boost::asio::awaitable<Verdict> check(const std::map<std::string, std::string, std::less<>>& users,
                                        Credentials credentials);

 private:
  std::optional<bool> cached(const std::string& key);
  void remember(std::string key, bool ok);

  boost::asio::thread_pool bcrypt_thread_{1};
  std::atomic<int> waiting_{0};
  std::mutex mutex_;
  std::unordered_map<std::string, bool> cache_;  // sha256(user, hash, password) → match
  std::deque<std::string> order_;                // oldest first, to bound the cache
};

}  // namespace leakwatch::exporter
