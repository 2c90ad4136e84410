#include "leakwatch/config/web_config.hpp"

#include "fields.hpp"
#include "leakwatch/common/file.hpp"

#include <filesystem>

namespace leakwatch::config {

using namespace fields;

namespace {

// exporter-toolkit refuses larger files too; a web config is a few hundred bytes.
constexpr std::uint64_t kMaxWebConfigBytes = 1 << 20;

constexpr std::array<std::string_view, 4> kTopKeys{"tls_server_config", "http_server_config", "basic_auth_users",
                                                   "rate_limit"};
constexpr std::array<std::string_view, 13> kTlsKeys{"cert",
                                                    "key",
                                                    "client_ca",
                                                    "cert_file",
                                                    "key_file",
                                                    "client_auth_type",
                                                    "client_ca_file",
                                                    "client_allowed_sans",
                                                    "min_version",
                                                    "max_version",
                                                    "cipher_suites",
                                                    "prefer_server_cipher_suites",
                                                    "curve_preferences"};
constexpr std::array<std::string_view, 2> kHttpKeys{"http2", "headers"};
constexpr std::array<std::string_view, 2> kRateLimitKeys{"interval", "burst"};
constexpr std::array<std::string_view, 5> kHeaderNames{"Content-Security-Policy", "X-Frame-Options",
                                                       "X-Content-Type-Options", "X-XSS-Protection",
                                                       "Strict-Transport-Security"};

constexpr std::array<std::pair<std::string_view, ClientAuth>, 6> kClientAuth{
    {{"NoClientCert", ClientAuth::no_client_cert},
     {"RequestClientCert", ClientAuth::request_client_cert},
     {"RequireAnyClientCert", ClientAuth::require_any_client_cert},
     {"RequireClientCert", ClientAuth::require_any_client_cert},  // exporter-toolkit's older name
     {"VerifyClientCertIfGiven", ClientAuth::verify_client_cert_if_given},
     {"RequireAndVerifyClientCert", ClientAuth::require_and_verify_client_cert}}};

constexpr std::array<std::pair<std::string_view, TlsVersion>, 4> kVersions{{{"TLS10", TlsVersion::tls10},
                                                                            {"TLS11", TlsVersion::tls11},
                                                                            {"TLS12", TlsVersion::tls12},
                                                                            {"TLS13", TlsVersion::tls13}}};

// Go's tls.CipherSuites(): the suites exporter-toolkit accepts by name (Go's insecure list is refused there
// too). The three TLS 1.3 suites are accepted and, as in Go, change nothing.
constexpr std::array<std::string_view, 17> kCipherSuites{"TLS_AES_128_GCM_SHA256",
                                                         "TLS_AES_256_GCM_SHA384",
                                                         "TLS_CHACHA20_POLY1305_SHA256",
                                                         "TLS_RSA_WITH_AES_128_CBC_SHA",
                                                         "TLS_RSA_WITH_AES_256_CBC_SHA",
                                                         "TLS_RSA_WITH_AES_128_GCM_SHA256",
                                                         "TLS_RSA_WITH_AES_256_GCM_SHA384",
                                                         "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
                                                         "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
                                                         "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
                                                         "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
                                                         "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                                         "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                                                         "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                                         "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                                                         "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                                                         "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"};

constexpr std::array<std::string_view, 4> kCurves{"X25519", "CurveP256", "CurveP384", "CurveP521"};

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

class WebDecoder : public FieldReader {
 public:
  using FieldReader::FieldReader;

  WebConfig decode(const YAML::Node& root) {
    WebConfig config;
    // An empty file is a valid web config: plain HTTP, no authentication (as exporter-toolkit).
    if (root.IsNull()) return config;
    if (!root.IsMap()) {
      error(position_of(root),
            "the top level must be a mapping (tls_server_config:, http_server_config:, "
            "basic_auth_users:, rate_limit:), got " +
                describe(root));
      return config;
    }
    for (const Entry& e : known(entries(root, ""), kTopKeys, "")) {
      if (e.name == "tls_server_config") {
        decode_tls(e, config.tls);
      } else if (e.name == "http_server_config") {
        decode_http(e, config);
      } else if (e.name == "basic_auth_users") {
        decode_users(e, config.basic_auth_users);
      } else if (e.name == "rate_limit") {
        decode_rate_limit(e, config);
      }
    }
    return config;
  }

 private:
  // A list whose every element must come from `allowed`.
  std::vector<std::string> names_field(const Entry& e, std::span<const std::string_view> allowed, std::string_view what,
                                       const std::string& prefix) {
    if (e.value.IsNull()) return {};
    if (!expect(e, YAML::NodeType::Sequence, "a sequence of strings", prefix)) return {};
    std::vector<std::string> out;
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
      const std::string value = it->IsScalar() ? it->Scalar() : std::string();
      if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
        error(position_of(*it), prefix + e.name + ": unknown " + std::string(what) + " " +
                                    (it->IsScalar() ? quote(value) : describe(*it)) + "; allowed: " + join(allowed));
        continue;
      }
      if (std::find(out.begin(), out.end(), value) != out.end()) {
        error(position_of(*it), prefix + e.name + ": " + quote(value) + " is listed twice");
        continue;
      }
      out.push_back(value);
    }
    return out;
  }

  void decode_tls(const Entry& section, WebTlsConfig& tls) {
    const std::string prefix = "tls_server_config: ";
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping", "")) return;
    std::map<std::string, Position, std::less<>> where;
    const Entry* sans_entry = nullptr;
    const Entry* max_entry = nullptr;
    // Kept while the checks below point at entries.
    const std::vector<Entry> es = known(entries(section.value, prefix), kTlsKeys, prefix);
    for (const Entry& e : es) {
      where[e.name] = position_of(e.key);
      const auto set_string = [&](std::string& out) {
        if (const Read<std::string> r = string_field(e, prefix); r.value) out = *r.value;
      };
      if (e.name == "cert") {
        set_string(tls.cert);
      } else if (e.name == "key") {
        set_string(tls.key);
      } else if (e.name == "client_ca") {
        set_string(tls.client_ca);
      } else if (e.name == "cert_file") {
        set_string(tls.cert_file);
      } else if (e.name == "key_file") {
        set_string(tls.key_file);
      } else if (e.name == "client_ca_file") {
        set_string(tls.client_ca_file);
      } else if (e.name == "client_auth_type") {
        // "" means the default, as in exporter-toolkit.
        if (e.value.IsScalar() && e.value.Scalar().empty()) {
          tls.client_auth_set = true;
        } else if (const Read<ClientAuth> r = enum_field(e, kClientAuth, prefix); r.value) {
          tls.client_auth = *r.value;
          tls.client_auth_set = true;
        }
      } else if (e.name == "client_allowed_sans") {
        if (const Read<std::vector<std::string>> r = string_list_field(e, prefix); r.value) {
          tls.client_allowed_sans = *r.value;
          sans_entry = &e;
        }
      } else if (e.name == "min_version") {
        if (const Read<TlsVersion> r = enum_field(e, kVersions, prefix); r.value) tls.min_version = *r.value;
      } else if (e.name == "max_version") {
        if (const Read<TlsVersion> r = enum_field(e, kVersions, prefix); r.value) tls.max_version = *r.value;
        max_entry = &e;
      } else if (e.name == "cipher_suites") {
        tls.cipher_suites = names_field(e, kCipherSuites, "cipher suite", prefix);
      } else if (e.name == "prefer_server_cipher_suites") {
        if (const Read<bool> r = bool_field(e, prefix); r.value) tls.prefer_server_cipher_suites = *r.value;
      } else if (e.name == "curve_preferences") {
        tls.curve_preferences = names_field(e, kCurves, "curve", prefix);
      }
    }
    const auto pos = [&](std::string_view key) {
      const auto it = where.find(key);
      return it != where.end() ? it->second : position_of(section.key);
    };
    const auto both = [&](const std::string& file, const std::string& inline_pem, std::string_view file_key,
                          std::string_view inline_key) {
      if (!file.empty() && !inline_pem.empty()) {
        error(pos(inline_key),
              prefix + "give " + std::string(inline_key) + " or " + std::string(file_key) + ", not both");
      }
    };
    both(tls.cert_file, tls.cert, "cert_file", "cert");
    both(tls.key_file, tls.key, "key_file", "key");
    both(tls.client_ca_file, tls.client_ca, "client_ca_file", "client_ca");
    if (!tls.enabled()) return;
    // What exporter-toolkit's config check reports before it serves.
    if (tls.cert_file.empty() && tls.cert.empty()) {
      error(position_of(section.key), prefix + "missing cert_file (or cert): TLS needs the server certificate");
    }
    if (tls.key_file.empty() && tls.key.empty()) {
      error(position_of(section.key), prefix + "missing key_file (or key): TLS needs the certificate's key");
    }
    const bool has_ca = !tls.client_ca_file.empty() || !tls.client_ca.empty();
    const bool verifies = tls.client_auth == ClientAuth::verify_client_cert_if_given ||
                          tls.client_auth == ClientAuth::require_and_verify_client_cert;
    if (has_ca && tls.client_auth == ClientAuth::no_client_cert) {
      error(pos(!tls.client_ca_file.empty() ? "client_ca_file" : "client_ca"),
            prefix +
                "a client CA is given but client_auth_type is NoClientCert; client certificates would never "
                "be asked for (use RequireAndVerifyClientCert)");
    }
    if (verifies && !has_ca) {
      error(pos("client_auth_type"),
            prefix + "client_auth_type " +
                std::string(tls.client_auth == ClientAuth::verify_client_cert_if_given ? "VerifyClientCertIfGiven"
                                                                                       : "RequireAndVerifyClientCert") +
                " needs client_ca_file (or client_ca) to verify client certificates against");
    }
    if (sans_entry != nullptr && tls.client_auth != ClientAuth::require_any_client_cert &&
        tls.client_auth != ClientAuth::require_and_verify_client_cert) {
      error(position_of(sans_entry->key),
            prefix +
                "client_allowed_sans needs client_auth_type RequireAndVerifyClientCert (or "
                "RequireAnyClientCert): otherwise a client can connect without a certificate to match");
    }
    if (static_cast<int>(tls.min_version) > static_cast<int>(tls.max_version)) {
      error(max_entry != nullptr ? value_position(*max_entry) : pos("min_version"),
            prefix + "max_version is lower than min_version; no TLS version would be left");
    }
  }

  void decode_http(const Entry& section, WebConfig& config) {
    const std::string prefix = "http_server_config: ";
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping", "")) return;
    for (const Entry& e : known(entries(section.value, prefix), kHttpKeys, prefix)) {
      if (e.name == "http2") {
        if (const Read<bool> r = bool_field(e, prefix); r.value) config.http2 = *r.value;
      } else if (e.name == "headers") {
        decode_headers(e, config.headers);
      }
    }
  }

  void decode_headers(const Entry& section, std::vector<std::pair<std::string, std::string>>& out) {
    const std::string prefix = "http_server_config: headers: ";
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping", "http_server_config: ")) return;
    for (const Entry& e : entries(section.value, prefix)) {
      if (std::find(kHeaderNames.begin(), kHeaderNames.end(), e.name) == kHeaderNames.end()) {
        error(position_of(e.key),
              prefix + "header " + quote(e.name) + " cannot be configured; allowed: " + join(kHeaderNames));
        continue;
      }
      const Read<std::string> r = string_field(e, prefix);
      if (!r.value || r.value->empty()) continue;  // blank leaves the header unset
      const std::string& v = *r.value;
      if (has_control(v)) {
        error(value_position(e), prefix + e.name + ": control characters are not allowed in a header value");
        continue;
      }
      if (e.name == "X-Frame-Options" && !iequals(v, "deny") && !iequals(v, "sameorigin")) {
        error(value_position(e), prefix + e.name + ": invalid value " + quote(v) + "; allowed: deny, sameorigin");
        continue;
      }
      if (e.name == "X-Content-Type-Options" && !iequals(v, "nosniff")) {
        error(value_position(e), prefix + e.name + ": invalid value " + quote(v) + "; allowed: nosniff");
        continue;
      }
      out.emplace_back(e.name, v);
    }
    std::sort(out.begin(), out.end());
  }

  void decode_users(const Entry& section, std::map<std::string, std::string, std::less<>>& users) {
    const std::string prefix = "basic_auth_users: ";
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping of user names to bcrypt hashes", "")) return;
    for (const Entry& e : entries(section.value, prefix)) {
      if (e.name.empty() || e.name.find(':') != std::string::npos || has_control(e.name)) {
        // Basic auth splits "user:password" at the first colon: such a name could never log in.
        error(position_of(e.key), prefix + "invalid user name " + quote(e.name) +
                                      "; it must be non-empty, without ':' or control characters");
        continue;
      }
      // The hash is a secret (offline guessing): it is never quoted in a message.
      if (!e.value.IsScalar() || !is_bcrypt_hash(e.value.Scalar())) {
        error(value_position(e), prefix + e.name +
                                     ": expected a bcrypt hash ($2a$, $2b$ or $2y$, cost 04 to 31, 60 characters), "
                                     "e.g. from `htpasswd -nBC 10 \"\" | tr -d ':\\n'`");
        continue;
      }
      users.emplace(e.name, e.value.Scalar());
    }
  }

  void decode_rate_limit(const Entry& section, WebConfig& config) {
    const std::string prefix = "rate_limit: ";
    if (section.value.IsNull()) return;
    if (!expect(section, YAML::NodeType::Map, "a mapping", "")) return;
    const Entry* burst_entry = nullptr;
    bool burst_bad = false;
    const std::vector<Entry> es = known(entries(section.value, prefix), kRateLimitKeys, prefix);
    for (const Entry& e : es) {
      if (e.name == "interval") {
        if (const Read<Duration> r = duration_or_zero_field(e, prefix); r.value) config.rate_limit_interval = *r.value;
      } else if (e.name == "burst") {
        burst_entry = &e;
        if (e.value.IsNull()) continue;
        const std::string text = e.value.IsScalar() ? e.value.Scalar() : std::string();
        int n = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || n < 0 || n > 1'000'000) {
          error(value_position(e), prefix + "burst: expected a whole number from 0 to 1000000, got " +
                                       (e.value.IsScalar() ? quote(text) : describe(e.value)));
          burst_bad = true;
          continue;
        }
        config.rate_limit_burst = n;
      }
    }
    if (config.rate_limit_interval.count() > 0 && config.rate_limit_burst == 0 && !burst_bad) {
      // A token bucket of size 0 never holds a token: every request would be refused.
      error(burst_entry != nullptr ? value_position(*burst_entry) : position_of(section.key),
            prefix + "burst must be at least 1 when interval is set; 0 would refuse every request");
    }
  }
};

}  // namespace

bool WebTlsConfig::enabled() const {
  return !cert_file.empty() || !key_file.empty() || !cert.empty() || !key.empty() || !client_ca_file.empty() ||
         !client_ca.empty() || client_auth_set;
}

bool is_bcrypt_hash(std::string_view hash) {
  if (hash.size() != 60 || hash.substr(0, 2) != "$2" || hash[3] != '$' || hash[6] != '$') return false;
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return false;
  if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9') return false;
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  return std::all_of(hash.begin() + 7, hash.end(), [](char c) {
    return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  });
}

WebConfigResult load_web_config_string(std::string_view yaml, const std::string& file) {
  std::vector<Diagnostic> diagnostics;
  WebConfig config;
  WebDecoder decoder(file, diagnostics);
  decode_document(yaml, file, diagnostics, [&](const YAML::Node& root) { config = decoder.decode(root); });
  if (!diagnostics.empty()) return diagnostics;
  return std::make_shared<const WebConfig>(std::move(config));
}

WebConfigResult load_web_config(const std::string& path) {
  auto bytes = common::read_file(path, kMaxWebConfigBytes);
  if (!bytes) return std::vector<Diagnostic>{{path, 0, 0, "cannot read web config file: " + bytes.error().message}};
  WebConfigResult result = load_web_config_string(*bytes, path);
  auto* ok = std::get_if<std::shared_ptr<const WebConfig>>(&result);
  if (ok == nullptr) return result;
  // As exporter-toolkit: certificate paths are relative to the web config file's directory.
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  auto copy = std::make_shared<WebConfig>(**ok);
  for (std::string* p : {&copy->tls.cert_file, &copy->tls.key_file, &copy->tls.client_ca_file}) {
    if (!p->empty() && std::filesystem::path(*p).is_relative()) *p = (dir / *p).lexically_normal().string();
  }
  return std::shared_ptr<const WebConfig>(std::move(copy));
}

}  // namespace leakwatch::config
