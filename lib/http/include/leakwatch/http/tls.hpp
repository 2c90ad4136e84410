#pragma once
// The one TLS-context factory for every client (targets, the Kubernetes API, `analyze`): TLS 1.2 or newer,
// peer verification against the system's trust store or a configured CA file. Contexts are immutable once
// made and shared by every connection of a job.

#include "leakwatch/common/error.hpp"

#include <memory>
#include <string>

namespace leakwatch::http {

struct TlsClientOptions {
  std::string ca_file;    // empty: the system's trust store
  std::string cert_file;  // a client certificate chain (PEM) to present, with key_file; empty: none
  std::string key_file;   // its private key (PEM)

  friend bool operator==(const TlsClientOptions&, const TlsClientOptions&) = default;
};

class TlsContext;  // an OpenSSL client context (tls_context.hpp, private to lib/http)

// Errc::io when the CA file or the client certificate and key cannot be read, parsed or do not match (the
// path and OpenSSL's reason in the message, never the key's content). The files are read here, once: a
// rotated client certificate is picked up by a reload.
common::Result<std::shared_ptr<TlsContext>> make_client_tls(const TlsClientOptions& options);

}  // namespace leakwatch::http
