#include "server_tls.hpp"

#include "leakwatch/common/file.hpp"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

namespace leakwatch::exporter {
namespace asio = boost::asio;
using common::Errc;
using common::Error;

namespace {

constexpr std::uint64_t kMaxPemBytes = 1 << 20;

// Go's curve names and OpenSSL's for the same groups.
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kGroups{
    {{"X25519", "X25519"}, {"CurveP256", "P-256"}, {"CurveP384", "P-384"}, {"CurveP521", "P-521"}}};

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};

common::Result<std::string> pem_text(const std::string& file, const std::string& inline_pem, std::string_view what) {
  // Error is constructible from a string too, so the value is placed explicitly.
  if (file.empty()) return common::Result<std::string>(boost::system::in_place_value, inline_pem);
  auto bytes = common::read_file(file, kMaxPemBytes);
  if (!bytes)
    return Error(Errc::io, "TLS: cannot read " + std::string(what) + " " + file + ": " + bytes.error().message);
  return common::Result<std::string>(boost::system::in_place_value, std::move(*bytes));
}

// How a message names a PEM source: "cert_file /path" or "the inline cert".
std::string where(const std::string& file, std::string_view file_key, std::string_view inline_key) {
  return file.empty() ? "the inline " + std::string(inline_key) : std::string(file_key) + " " + file;
}

// Adds every certificate of a PEM bundle to the context's trust store and to the list of CAs the server
// names to clients (so a client with several certificates knows which one to send).
common::Result<void> add_client_cas(SSL_CTX* ctx, const std::string& pem, const std::string& name) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Error(Errc::io, "TLS: out of memory reading " + name);
  int count = 0;
  while (std::unique_ptr<X509, X509Deleter> cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert.get()) != 1 ||
        SSL_CTX_add_client_CA(ctx, cert.get()) != 1) {
      return Error(Errc::invalid, "TLS: cannot use a certificate of " + name);
    }
    ++count;
  }
  ERR_clear_error();  // the loop ends on PEM's "no start line"
  if (count == 0) return Error(Errc::invalid, "TLS: no PEM certificate in " + name);
  return {};
}

bool key_parses(const std::string& pem) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  EVP_PKEY_free(key);
  ERR_clear_error();
  return key != nullptr;
}

// RequestClientCert and RequireAnyClientCert ask for a certificate but, as in Go, do not verify it.
int accept_any(int /*preverified*/, X509_STORE_CTX* /*store*/) { return 1; }

common::Result<void> set_ciphers(SSL_CTX* ctx, const std::vector<std::string>& suites) {
  // Go's names are the IANA names; OpenSSL knows each cipher's standard name beside its own.
  std::string list;
  const STACK_OF(SSL_CIPHER)* all = nullptr;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> probe(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (!probe || SSL_CTX_set_cipher_list(probe.get(), "ALL:COMPLEMENTOFALL:@SECLEVEL=0") != 1) {
    return Error(Errc::unsupported, "TLS: cannot list OpenSSL's cipher suites");
  }
  all = SSL_CTX_get_ciphers(probe.get());
  for (const std::string& suite : suites) {
    // TLS 1.3 suites are not configurable in Go either; OpenSSL's defaults for them apply.
    if (suite == "TLS_AES_128_GCM_SHA256" || suite == "TLS_AES_256_GCM_SHA384" ||
        suite == "TLS_CHACHA20_POLY1305_SHA256") {
      continue;
    }
    const char* openssl_name = nullptr;
    for (int i = 0; all != nullptr && i < sk_SSL_CIPHER_num(all); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(all, i);
      if (const char* standard = SSL_CIPHER_standard_name(c); standard != nullptr && suite == standard) {
        openssl_name = SSL_CIPHER_get_name(c);
        break;
      }
    }
    if (openssl_name == nullptr) return Error(Errc::unsupported, "TLS: cipher suite " + suite + " is not available");
    if (!list.empty()) list += ':';
    list += openssl_name;
  }
  if (!list.empty() && SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
    ERR_clear_error();
    return Error(Errc::unsupported, "TLS: OpenSSL refuses the cipher suites " + list + " (security level)");
  }
  return {};
}

}  // namespace

common::Result<std::shared_ptr<asio::ssl::context>> make_server_tls(const config::WebTlsConfig& tls) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  (tls.prefer_server_cipher_suites ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  if (SSL_CTX_set_min_proto_version(native, static_cast<int>(tls.min_version)) != 1 ||
      SSL_CTX_set_max_proto_version(native, static_cast<int>(tls.max_version)) != 1) {
    return Error(Errc::unsupported, "TLS: this OpenSSL cannot serve the configured min_version/max_version");
  }
  // Client verification with session resumption needs a session id context, or resumed handshakes fail.
  static constexpr unsigned char kSessionContext[] = "leakwatch";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);

  auto cert = pem_text(tls.cert_file, tls.cert, "cert_file");
  if (!cert) return cert.error();
  auto key = pem_text(tls.key_file, tls.key, "key_file");
  if (!key) return key.error();
  boost::system::error_code ec;
  ctx->use_certificate_chain(asio::buffer(*cert), ec);
  if (ec)
    return Error(Errc::invalid, "TLS: cannot load " + where(tls.cert_file, "cert_file", "cert") + ": " + ec.message());
  ctx->use_private_key(asio::buffer(*key), asio::ssl::context::pem, ec);
  // OpenSSL checks the key against the certificate as it loads it; a key that parses on its own and was
  // still refused is the wrong key, which deserves a plainer message than "key values mismatch".
  if ((ec && key_parses(*key)) || (!ec && SSL_CTX_check_private_key(native) != 1)) {
    ERR_clear_error();
    return Error(Errc::invalid, "TLS: " + where(tls.key_file, "key_file", "key") + " does not match " +
                                    where(tls.cert_file, "cert_file", "cert"));
  }
  if (ec)
    return Error(Errc::invalid, "TLS: cannot load " + where(tls.key_file, "key_file", "key") + ": " + ec.message());

  if (!tls.client_ca_file.empty() || !tls.client_ca.empty()) {
    auto ca = pem_text(tls.client_ca_file, tls.client_ca, "client_ca_file");
    if (!ca) return ca.error();
    if (auto added = add_client_cas(native, *ca, where(tls.client_ca_file, "client_ca_file", "client_ca")); !added) {
      return added.error();
    }
  }
  using config::ClientAuth;
  switch (tls.client_auth) {
    case ClientAuth::no_client_cert: SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr); break;
    case ClientAuth::request_client_cert: SSL_CTX_set_verify(native, SSL_VERIFY_PEER, accept_any); break;
    case ClientAuth::require_any_client_cert:
      SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
      break;
    case ClientAuth::verify_client_cert_if_given: SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr); break;
    case ClientAuth::require_and_verify_client_cert:
      SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }

  if (!tls.cipher_suites.empty()) {
    if (auto set = set_ciphers(native, tls.cipher_suites); !set) return set.error();
  }
  if (!tls.curve_preferences.empty()) {
    std::string groups;
    for (const std::string& curve : tls.curve_preferences) {
      const auto* it = std::find_if(kGroups.begin(), kGroups.end(), [&](const auto& g) { return g.first == curve; });
      if (it == kGroups.end()) return Error(Errc::unsupported, "TLS: curve " + curve + " is not available");
      if (!groups.empty()) groups += ':';
      groups += it->second;
    }
    if (SSL_CTX_set1_groups_list(native, groups.c_str()) != 1) {
      ERR_clear_error();
      return Error(Errc::unsupported, "TLS: OpenSSL refuses the curves " + groups);
    }
  }
  return ctx;
}

bool peer_has_allowed_san(SSL* ssl, const std::vector<std::string>& allowed) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return false;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return false;
  bool found = false;
  for (int i = 0; !found && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    std::string value;
    switch (name->type) {
      case GEN_DNS:
      case GEN_EMAIL:
      case GEN_URI: {
        const ASN1_IA5STRING* s = name->d.ia5;
        value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
        break;
      }
      case GEN_IPADD: {
        const ASN1_OCTET_STRING* s = name->d.iPAddress;
        std::array<char, INET6_ADDRSTRLEN> text{};
        const int len = ASN1_STRING_length(s);
        const int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
        if (family != 0 && inet_ntop(family, ASN1_STRING_get0_data(s), text.data(), text.size()) != nullptr) {
          value = text.data();
        }
        break;
      }
      default: break;
    }
    found = !value.empty() && std::find(allowed.begin(), allowed.end(), value) != allowed.end();
  }
  GENERAL_NAMES_free(names);
  return found;
}

}  // namespace leakwatch::exporter
