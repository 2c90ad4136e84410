// The one client TLS-context factory: every client (targets, the Kubernetes API, analyze) gets its context
// here. OpenSSL 3 at its default security level refuses TLS 1.0/1.1 anyway, so the floor is checked on the
// context itself: it must hold even where a system configuration lowers the security level.
#include "../../lib/http/src/tls_context.hpp"

#include <catch2/catch.hpp>
#include <openssl/ssl.h>

#include <filesystem>
#include <fstream>

using leakwatch::http::make_client_tls;

TEST_CASE("client TLS contexts require TLS 1.2 or newer and verify peers", "[http][tls]") {
  const auto system = make_client_tls({});
  REQUIRE(system.has_value());
  SSL_CTX* ctx = (*system)->ctx.native_handle();
  CHECK(SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION);
  // Still at TLS 1.2 after lowering the security level, as a permissive openssl.cnf would.
  SSL_CTX_set_security_level(ctx, 0);
  CHECK(SSL_CTX_get_min_proto_version(ctx) == TLS1_2_VERSION);
}

TEST_CASE("a CA file that cannot be used is an io error naming it", "[http][tls]") {
  const auto missing = make_client_tls({"/nonexistent/ca.pem", "", ""});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == leakwatch::common::Errc::io);
  CHECK(missing.error().message.find("/nonexistent/ca.pem") != std::string::npos);

  const auto path = std::filesystem::temp_directory_path() / "leakwatch-tls-test-not-a-cert.pem";
  std::ofstream(path) << "not a certificate\n";
  const auto garbage = make_client_tls({path.string(), "", ""});
  std::filesystem::remove(path);
  REQUIRE_FALSE(garbage.has_value());
  CHECK(garbage.error().code == leakwatch::common::Errc::io);
}

TEST_CASE("a client certificate or key that cannot be used is an io error naming the file", "[http][tls]") {
  const auto missing = make_client_tls({"", "/nonexistent/client.pem", "/nonexistent/client-key.pem"});
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == leakwatch::common::Errc::io);
  CHECK(missing.error().message.find("cert_file /nonexistent/client.pem") != std::string::npos);

  // A key file whose content is not a key: the message names the file, never its bytes.
  const auto key = std::filesystem::temp_directory_path() / "leakwatch-tls-test-key.pem";
  std::ofstream(key) << "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
  const auto system_ca = "/etc/ssl/certs/ca-certificates.crt";
  const auto bad_key = make_client_tls({"", system_ca, key.string()});
  std::filesystem::remove(key);
  if (std::filesystem::exists(system_ca)) {  // any PEM chain stands in for a client certificate here
    REQUIRE_FALSE(bad_key.has_value());
    CHECK(bad_key.error().message.find("key_file " + key.string()) != std::string::npos);
    CHECK(bad_key.error().message.find("c2VjcmV0") == std::string::npos);
  }
}
