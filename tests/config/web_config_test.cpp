#include "leakwatch/config/web_config.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace leakwatch::config;
using namespace std::chrono_literals;

namespace {

// Real hashes (libxcrypt, cost 4) of "s3cret" and of "other".
constexpr const char* kHash = "$2b$04$r24nEAiYGFZC0MP32x5DDuIKdhxlPmbKT/tYlge0E7WzFyugINPKO";
constexpr const char* kHashY = "$2y$04$oeoGJFSQFUWn1El4fyMgrua5c0SCEBQyKXtpGE36v58e.Ql4Rsfg6";

std::string render(const std::vector<Diagnostic>& ds) {
  std::ostringstream out;
  for (const Diagnostic& d : ds) out << d.to_string() << "\n";
  return out.str();
}

// The config, kept alive by the returned pointer (a reference into a temporary result would dangle).
std::shared_ptr<const WebConfig> loaded(const WebConfigResult& r) {
  const auto* ds = std::get_if<std::vector<Diagnostic>>(&r);
  INFO("diagnostics:\n" << (ds != nullptr ? render(*ds) : ""));
  REQUIRE(ds == nullptr);
  return std::get<std::shared_ptr<const WebConfig>>(r);
}

// The diagnostics, one "line:column: message" per line, without the file name.
std::vector<std::string> errors_of(const std::string& yaml) {
  const WebConfigResult r = load_web_config_string(yaml, "web.yml");
  REQUIRE(std::holds_alternative<std::vector<Diagnostic>>(r));
  std::vector<std::string> out;
  for (const Diagnostic& d : std::get<std::vector<Diagnostic>>(r)) {
    CHECK(d.file == "web.yml");
    out.push_back(std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message);
  }
  return out;
}

}  // namespace

TEST_CASE("an empty web config serves plain HTTP without authentication") {
  for (const char* yaml : {"", "# nothing yet\n", "{}\n"}) {
    const std::shared_ptr<const WebConfig> config = loaded(load_web_config_string(yaml, "web.yml"));
    const WebConfig& c = *config;
    CHECK_FALSE(c.tls.enabled());
    CHECK(c.basic_auth_users.empty());
    CHECK(c.headers.empty());
    CHECK(c.rate_limit_interval == 0s);
  }
}

TEST_CASE("a full exporter-toolkit web config loads with every field") {
  const std::string yaml = std::string(R"(
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  client_allowed_sans: [prometheus.example, 127.0.0.1]
  min_version: TLS13
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  prefer_server_cipher_suites: false
  curve_preferences: [X25519, CurveP256]
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    Content-Security-Policy: "default-src 'self'"
    X-Content-Type-Options: NoSniff
basic_auth_users:
  alice: ")") + kHash + R"("
  bob: ')" + kHashY + R"('
rate_limit:
  interval: 100ms
  burst: 20
)";
  const std::shared_ptr<const WebConfig> config = loaded(load_web_config_string(yaml, "web.yml"));
  const WebConfig& c = *config;
  CHECK(c.tls.enabled());
  CHECK(c.tls.cert_file == "server.crt");
  CHECK(c.tls.key_file == "server.key");
  CHECK(c.tls.client_ca_file == "ca.crt");
  CHECK(c.tls.client_auth == ClientAuth::require_and_verify_client_cert);
  CHECK(c.tls.client_allowed_sans == std::vector<std::string>{"prometheus.example", "127.0.0.1"});
  CHECK(c.tls.min_version == TlsVersion::tls13);
  CHECK(c.tls.max_version == TlsVersion::tls13);
  CHECK(c.tls.cipher_suites ==
        std::vector<std::string>{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"});
  CHECK_FALSE(c.tls.prefer_server_cipher_suites);
  CHECK(c.tls.curve_preferences == std::vector<std::string>{"X25519", "CurveP256"});
  CHECK_FALSE(c.http2);
  // Sorted by name, values as written.
  REQUIRE(c.headers.size() == 3);
  CHECK(c.headers[0] == std::pair<std::string, std::string>{"Content-Security-Policy", "default-src 'self'"});
  CHECK(c.headers[1] == std::pair<std::string, std::string>{"X-Content-Type-Options", "NoSniff"});
  CHECK(c.headers[2] == std::pair<std::string, std::string>{"X-Frame-Options", "deny"});
  REQUIRE(c.basic_auth_users.size() == 2);
  CHECK(c.basic_auth_users.at("alice") == kHash);
  CHECK(c.basic_auth_users.at("bob") == kHashY);
  CHECK(c.rate_limit_interval == 100ms);
  CHECK(c.rate_limit_burst == 20);
}

TEST_CASE("TLS defaults follow exporter-toolkit") {
  const std::shared_ptr<const WebConfig> config =
      loaded(load_web_config_string("tls_server_config:\n  cert: x\n  key: y\n", "web.yml"));
  const WebConfig& c = *config;
  CHECK(c.tls.enabled());
  CHECK(c.tls.min_version == TlsVersion::tls12);
  CHECK(c.tls.max_version == TlsVersion::tls13);
  CHECK(c.tls.client_auth == ClientAuth::no_client_cert);
  CHECK(c.tls.prefer_server_cipher_suites);
  CHECK(c.http2);
  // The older name for RequireAnyClientCert, and "" for the default.
  CHECK(loaded(load_web_config_string("tls_server_config: {cert: x, key: y, client_auth_type: RequireClientCert}\n",
                                      "web.yml"))
            ->tls.client_auth == ClientAuth::require_any_client_cert);
  CHECK(loaded(load_web_config_string("tls_server_config: {cert: x, key: y, client_auth_type: ''}\n", "web.yml"))
            ->tls.client_auth == ClientAuth::no_client_cert);
}

TEST_CASE("client_auth_type alone turns TLS on, and then a certificate is required") {
  CHECK(errors_of("tls_server_config:\n  client_auth_type: RequireAnyClientCert\n") ==
        std::vector<std::string>{
            "1:1: tls_server_config: missing cert_file (or cert): TLS needs the server certificate",
            "1:1: tls_server_config: missing key_file (or key): TLS needs the certificate's key"});
}

TEST_CASE("each web config mistake is reported at its position") {
  struct Case {
    std::string yaml;
    std::vector<std::string> errors;
  };
  const std::vector<Case> cases = {
      {"tls_config:\n  cert_file: a\n",
       {"1:1: unknown key \"tls_config\"; allowed: tls_server_config, http_server_config, basic_auth_users, "
        "rate_limit"}},
      {"tls_server_config:\n  cert_fle: a\n  key_file: b\n  cert_file: c\n",
       {"2:3: tls_server_config: unknown key \"cert_fle\"; allowed: cert, key, client_ca, cert_file, key_file, "
        "client_auth_type, client_ca_file, client_allowed_sans, min_version, max_version, cipher_suites, "
        "prefer_server_cipher_suites, curve_preferences"}},
      {"tls_server_config:\n  cert_file: a\n  cert: b\n  key_file: c\n",
       {"3:3: tls_server_config: give cert or cert_file, not both"}},
      {"tls_server_config:\n  cert_file: a\n  key_file: c\n  client_auth_type: Sometimes\n",
       {"4:21: tls_server_config: client_auth_type: invalid value \"Sometimes\"; allowed: NoClientCert, "
        "RequestClientCert, RequireAnyClientCert, RequireClientCert, VerifyClientCertIfGiven, "
        "RequireAndVerifyClientCert"}},
      {"tls_server_config:\n  cert_file: a\n  key_file: c\n  client_ca_file: ca\n",
       {"4:3: tls_server_config: a client CA is given but client_auth_type is NoClientCert; client certificates "
        "would never be asked for (use RequireAndVerifyClientCert)"}},
      {"tls_server_config:\n  cert_file: a\n  key_file: c\n  client_auth_type: RequireAndVerifyClientCert\n",
       {"4:3: tls_server_config: client_auth_type RequireAndVerifyClientCert needs client_ca_file (or client_ca) "
        "to verify client certificates against"}},
      {"tls_server_config:\n  cert_file: a\n  key_file: c\n  client_allowed_sans: [x]\n",
       {"4:3: tls_server_config: client_allowed_sans needs client_auth_type RequireAndVerifyClientCert (or "
        "RequireAnyClientCert): otherwise a client can connect without a certificate to match"}},
      {"tls_server_config:\n  cert_file: a\n  key_file: c\n  min_version: TLS13\n  max_version: TLS12\n",
       {"5:16: tls_server_config: max_version is lower than min_version; no TLS version would be left"}},
      {"tls_server_config:\n  cert_file: a\n  key_file: c\n  min_version: TLS1.2\n",
       {"4:16: tls_server_config: min_version: invalid value \"TLS1.2\"; allowed: TLS10, TLS11, TLS12, TLS13"}},
      {"tls_server_config:\n  cert_file: a\n  key_file: c\n  cipher_suites:\n    - TLS_RSA_WITH_RC4_128_SHA\n",
       {"5:7: tls_server_config: cipher_suites: unknown cipher suite \"TLS_RSA_WITH_RC4_128_SHA\"; allowed: "
        "TLS_AES_128_GCM_SHA256"}},
      {"tls_server_config:\n  cert_file: a\n  key_file: c\n  curve_preferences: [P256]\n",
       {"4:23: tls_server_config: curve_preferences: unknown curve \"P256\"; allowed: X25519, CurveP256, "
        "CurveP384, CurveP521"}},
      {"http_server_config:\n  headers:\n    Server: leakwatch\n",
       {"3:5: http_server_config: headers: header \"Server\" cannot be configured; allowed: "
        "Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, X-XSS-Protection, "
        "Strict-Transport-Security"}},
      {"http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
       {"3:22: http_server_config: headers: X-Frame-Options: invalid value \"allow\"; allowed: deny, sameorigin"}},
      {"http_server_config:\n  headers:\n    Content-Security-Policy: \"a\\r\\nSet-Cookie: x=1\"\n",
       {"3:30: http_server_config: headers: Content-Security-Policy: control characters are not allowed in a "
        "header value"}},
      {"http_server_config:\n  http2: yes\n", {"2:10: http_server_config: http2: expected true or false, got \"yes\""}},
      {"basic_auth_users:\n  \"a:b\": x\n",
       {"2:3: basic_auth_users: invalid user name \"a:b\"; it must be non-empty, without ':' or control "
        "characters"}},
      {"rate_limit:\n  interval: 1s\n",
       {"1:1: rate_limit: burst must be at least 1 when interval is set; 0 would refuse every request"}},
      {"rate_limit:\n  interval: 1s\n  burst: -1\n",
       {"3:10: rate_limit: burst: expected a whole number from 0 to 1000000, got \"-1\""}},
      {"rate_limit:\n  interval: soon\n  burst: 1\n",
       {"2:13: rate_limit: interval: invalid duration \"soon\"; expected a number with a unit"}},
      {"tls_server_config: [a]\n", {"1:20: tls_server_config: expected a mapping, got a sequence"}},
      {"basic_auth_users:\n  a: x\n  a: y\n",
       {"2:6: basic_auth_users: a: expected a bcrypt hash",
        "3:3: basic_auth_users: duplicate key \"a\"; first defined at line 2, column 3"}},
      {"- a\n", {"1:1: the top level must be a mapping"}},
      {"tls_server_config:\n  cert_file: [\n", {"3:1: YAML syntax error"}},
  };
  for (const Case& c : cases) {
    INFO(c.yaml);
    const std::vector<std::string> got = errors_of(c.yaml);
    INFO("got:\n"
         << [&] {
              std::string s;
              for (const std::string& g : got) s += g + "\n";
              return s;
            }());
    REQUIRE(got.size() == c.errors.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      // A message may be cut short where the rest is a long list.
      CHECK(got[i].substr(0, c.errors[i].size()) == c.errors[i]);
    }
  }
}

TEST_CASE("secrets never appear in a web config message") {
  const std::string key = "-----BEGIN PRIVATE KEY-----\\nTOPSECRETKEYBYTES\\n-----END PRIVATE KEY-----";
  const std::string almost_hash = std::string(kHash).substr(0, 59);  // one character short
  const std::string yaml = "tls_server_config:\n  key: \"" + key + "\"\n  key_file: k\n  cert: c\n" +
                           "basic_auth_users:\n  alice: \"" + almost_hash + "\"\n  bob: [\"" + kHash + "\"]\n";
  const std::vector<std::string> got = errors_of(yaml);
  REQUIRE(got.size() == 3);
  for (const std::string& g : got) {
    INFO(g);
    CHECK(g.find("TOPSECRET") == std::string::npos);
    CHECK(g.find("r24nEAiYGFZC0MP32x5DDu") == std::string::npos);
  }
  CHECK(got[0] == "2:3: tls_server_config: give key or key_file, not both");
  CHECK(got[1].substr(0, 40) == "6:10: basic_auth_users: alice: expected ");
  CHECK(got[2].substr(0, 36) == "7:8: basic_auth_users: bob: expected");
}

TEST_CASE("bcrypt hashes are recognised by their shape") {
  CHECK(is_bcrypt_hash(kHash));
  CHECK(is_bcrypt_hash(kHashY));
  CHECK(is_bcrypt_hash("$2a$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));
  CHECK(is_bcrypt_hash("$2y$31$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));
  CHECK_FALSE(is_bcrypt_hash("$2y$03$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));  // cost < 4
  CHECK_FALSE(is_bcrypt_hash("$2y$32$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));  // cost > 31
  CHECK_FALSE(is_bcrypt_hash("$2x$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));  // variant
  CHECK_FALSE(is_bcrypt_hash("$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7z"));   // short
  CHECK_FALSE(is_bcrypt_hash("$2y$10$X0h1gDsPszWURQaxFh+zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"));  // '+'
  CHECK_FALSE(is_bcrypt_hash("$6$rounds=5000$saltsaltsaltsalt$hash"));                          // sha512crypt
  CHECK_FALSE(is_bcrypt_hash("s3cret"));                                                        // plain text
}

TEST_CASE("certificate paths are relative to the web config file") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "leakwatch_web_config_test";
  std::filesystem::create_directories(dir / "tls");
  const std::filesystem::path file = dir / "web.yml";
  {
    std::ofstream out(file);
    out << "tls_server_config:\n  cert_file: tls/server.crt\n  key_file: /etc/abs.key\n"
           "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ../ca.crt\n";
  }
  const std::shared_ptr<const WebConfig> config = loaded(load_web_config(file.string()));
  const WebConfig& c = *config;
  CHECK(c.tls.cert_file == (dir / "tls/server.crt").string());
  CHECK(c.tls.key_file == "/etc/abs.key");
  CHECK(c.tls.client_ca_file == (dir.parent_path() / "ca.crt").string());
  std::filesystem::remove_all(dir);

  const WebConfigResult missing = load_web_config((dir / "absent.yml").string());
  REQUIRE(std::holds_alternative<std::vector<Diagnostic>>(missing));
  const Diagnostic& d = std::get<std::vector<Diagnostic>>(missing).front();
  CHECK(d.line == 0);
  CHECK(d.message.rfind("cannot read web config file: ", 0) == 0);
}
