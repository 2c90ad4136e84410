#pragma once
// TLS for leakwatch's own port, from the web config's tls_server_config: an OpenSSL server context with
// the certificate, the client-certificate policy (Go's tls.ClientAuthType, as exporter-toolkit maps it), the
// protocol versions, cipher suites and groups. Internal to lib/exporter.

#include "leakwatch/common/error.hpp"
#include "leakwatch/config/web_config.hpp"

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <vector>

namespace leakwatch::exporter {

// Reads the certificate, key and client CA (files or inline PEM) and builds the context. Errors name the
// file and what is wrong with it, never the key's bytes.
common::Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls(const config::WebTlsConfig& tls);

// Whether the peer certificate of a finished handshake carries one of `allowed` as a DNS, e-mail, IP or URI
// subject alternative name (client_allowed_sans). False without a peer certificate.
bool peer_has_allowed_san(SSL* ssl, const std::vector<std::string>& allowed);

}  // namespace leakwatch::exporter
