#include "leakwatch/http/tls.hpp"

#include "tls_context.hpp"

#include <openssl/ssl.h>

namespace leakwatch::http {
namespace asio = boost::asio;

common::Result<std::shared_ptr<TlsContext>> make_client_tls(const TlsClientOptions& options) {
  auto tls = std::make_shared<TlsContext>();
  boost::system::error_code ec;
  tls->ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression,
                       ec);
  // The option bits above are deprecated in OpenSSL 3; the minimum version is what it honours.
  if (ec || SSL_CTX_set_min_proto_version(tls->ctx.native_handle(), TLS1_2_VERSION) != 1) {
    return common::Error(common::Errc::unsupported, "TLS: cannot require TLS 1.2 or newer");
  }
  if (options.ca_file.empty()) {
    tls->ctx.set_default_verify_paths(ec);
    if (ec) return common::Error(common::Errc::io, "TLS: cannot load the system trust store: " + ec.message());
  } else {
    tls->ctx.load_verify_file(options.ca_file, ec);
    if (ec) return common::Error(common::Errc::io, "TLS: cannot load ca_file " + options.ca_file + ": " + ec.message());
  }
  if (!options.cert_file.empty()) {
    tls->ctx.use_certificate_chain_file(options.cert_file, ec);
    if (ec) {
      return common::Error(common::Errc::io, "TLS: cannot load cert_file " + options.cert_file + ": " + ec.message());
    }
    tls->ctx.use_private_key_file(options.key_file, asio::ssl::context::pem, ec);
    if (ec)
      return common::Error(common::Errc::io, "TLS: cannot load key_file " + options.key_file + ": " + ec.message());
    if (SSL_CTX_check_private_key(tls->ctx.native_handle()) != 1) {
      return common::Error(common::Errc::io,
                           "TLS: key_file " + options.key_file + " does not match cert_file " + options.cert_file);
    }
  }
  return tls;
}

}  // namespace leakwatch::http
