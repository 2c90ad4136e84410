#pragma once
// What a scrape request carries to prove who sends it: Prometheus' basic_auth, authorization and
// http_headers, as header fields. Secrets given in files are read when a request needs them and read again
// whenever the file changed (its inode, size or modification time), so a rotated password, a renewed
// projected service-account token or a replaced Kubernetes secret is used from the next poll on, without a
// reload. Secret values are never put in an error, a log line or a metric: errors name the file and say
// why it could not be used.

#include "leakwatch/common/error.hpp"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace leakwatch::http {

// A value given inline or read from a file: `file` set means the file.
struct Secret {
  std::string value;
  std::string file;

  friend bool operator==(const Secret&, const Secret&) = default;
};

struct HeaderSetting {
  std::string name;
  std::vector<std::string> values;   // sent as they are
  std::vector<std::string> secrets;  // sent as they are; secret
  std::vector<std::string> files;    // each file's content, whitespace trimmed; secret

  friend bool operator==(const HeaderSetting&, const HeaderSetting&) = default;
};

struct AuthSettings {
  struct Basic {
    Secret username;
    Secret password;
    friend bool operator==(const Basic&, const Basic&) = default;
  };
  struct Authorization {
    std::string type = "Bearer";
    Secret credentials;
    friend bool operator==(const Authorization&, const Authorization&) = default;
  };
  std::optional<Basic> basic;  // at most one of basic and authorization (config validation sees to it)
  std::optional<Authorization> authorization;
  std::vector<HeaderSetting> headers;

  bool empty() const noexcept { return !basic && !authorization && headers.empty(); }
  friend bool operator==(const AuthSettings&, const AuthSettings&) = default;
};

using HeaderFields = std::vector<std::pair<std::string, std::string>>;

// One per fetcher (not thread-safe: a fetcher fetches one profile at a time).
class RequestAuth {
 public:
  explicit RequestAuth(AuthSettings settings) : settings_(std::move(settings)) {}

  // Appends the header fields the settings call for. Fails (naming the key and the file, never a value)
  // when a secret file cannot be read, is larger than 64 KiB, or holds a line break or NUL after trimming.
  common::Result<void> add_to(HeaderFields& fields);

 private:
  common::Result<std::string> resolve(const Secret& s, const char* what);
  common::Result<std::string> read(const std::string& path, const char* what);

  struct Cached {
    unsigned long long device = 0, inode = 0, size = 0;
    long long mtime_ns = 0;
    std::string content;
  };
  AuthSettings settings_;
  std::map<std::string, Cached> files_;  // by path: what was read, and from which version of the file
};

}  // namespace leakwatch::http
