#pragma once
// The web configuration of leakwatch's own port (--web.config.file), in the format of Prometheus'
// exporter-toolkit, so the file a Prometheus or node_exporter deployment already has works unchanged:
// tls_server_config, http_server_config, basic_auth_users and rate_limit. Loading validates what
// exporter-toolkit validates when it starts (and a little more: contradictions it would only hit at the first
// handshake are errors here), with file:line:column diagnostics. Secrets (the inline key, the password
// hashes) never appear in a message.

#include "leakwatch/common/duration.hpp"
#include "leakwatch/config/load.hpp"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace leakwatch::config {

// Go's tls.ClientAuthType, by exporter-toolkit's names.
enum class ClientAuth {
  no_client_cert,                  // "NoClientCert" (default; also "")
  request_client_cert,             // "RequestClientCert": asked for, not required, not verified
  require_any_client_cert,         // "RequireAnyClientCert" (or the older "RequireClientCert"): required, not verified
  verify_client_cert_if_given,     // "VerifyClientCertIfGiven"
  require_and_verify_client_cert,  // "RequireAndVerifyClientCert": the only one that authenticates clients
};

// TLS protocol versions as their wire values ("TLS10" = 0x0301 ... "TLS13" = 0x0304), as OpenSSL takes them.
enum class TlsVersion : int { tls10 = 0x0301, tls11 = 0x0302, tls12 = 0x0303, tls13 = 0x0304 };

struct WebTlsConfig {
  // The server certificate (a PEM chain) and its key: each either a file or inline PEM, not both.
  std::string cert_file;
  std::string key_file;
  std::string cert;
  std::string key;  // a secret
  // CAs that client certificates are verified against: a file or inline PEM, not both; only with a
  // client_auth_type other than NoClientCert.
  std::string client_ca_file;
  std::string client_ca;
  ClientAuth client_auth = ClientAuth::no_client_cert;
  bool client_auth_set = false;  // client_auth_type was given (it alone turns TLS on, as in exporter-toolkit)
  // When not empty, the client certificate must carry one of these as a DNS, e-mail, IP or URI SAN.
  std::vector<std::string> client_allowed_sans;
  TlsVersion min_version = TlsVersion::tls12;
  TlsVersion max_version = TlsVersion::tls13;
  // TLS 1.2-and-older cipher suites by their IANA names as Go spells them (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
  // ...), in preference order. TLS 1.3 suites are accepted and, as in Go, have no effect. Empty: the defaults.
  std::vector<std::string> cipher_suites;
  bool prefer_server_cipher_suites = true;
  // Key exchange groups by Go's names (X25519, CurveP256, CurveP384, CurveP521), in preference order.
  std::vector<std::string> curve_preferences;

  // TLS is on when any certificate, key, client CA or client_auth_type is given (exporter-toolkit's IsEnabled).
  bool enabled() const;
};

struct WebConfig {
  WebTlsConfig tls;  // tls_server_config
  // http_server_config.http2: accepted for compatibility; leakwatch serves HTTP/1.1 only.
  bool http2 = true;
  // http_server_config.headers, added to every response. Only exporter-toolkit's five may be set:
  // Content-Security-Policy, X-Frame-Options (deny | sameorigin), X-Content-Type-Options (nosniff),
  // X-XSS-Protection and Strict-Transport-Security. Sorted by name.
  std::vector<std::pair<std::string, std::string>> headers;
  // basic_auth_users: user name → bcrypt hash ($2a$, $2b$ or $2y$, cost 4 to 31). Empty: no authentication.
  std::map<std::string, std::string, std::less<>> basic_auth_users;
  // rate_limit: a token bucket over all requests; interval 0 (the default) disables it.
  common::Duration rate_limit_interval{0};
  int rate_limit_burst = 0;
};

using WebConfigResult = std::variant<std::shared_ptr<const WebConfig>, std::vector<Diagnostic>>;

// Parses and validates web config YAML; `file` names it in diagnostics. Unknown keys are errors (as
// exporter-toolkit's strict decoding). Every problem found is reported, in file order.
WebConfigResult load_web_config_string(std::string_view yaml, const std::string& file);

// Reads the file (at most 1 MiB), then load_web_config_string(). cert_file, key_file and client_ca_file are
// resolved against the file's directory, as exporter-toolkit does.
WebConfigResult load_web_config(const std::string& path);

// A bcrypt hash as libxcrypt and Go's bcrypt accept it: $2a$, $2b$ or $2y$, a two-digit cost from 04 to 31,
// then 53 characters of bcrypt's base64 (22 of salt, 31 of hash).
bool is_bcrypt_hash(std::string_view hash);

}  // namespace leakwatch::config
