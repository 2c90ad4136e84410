#pragma once
// The one TLS-context factory for every client (targets, the Kubernetes API, `analyze`): TLS 1.2 or newer,
// peer verification against the system's trust store or a configured CA file. Contexts are immutable once
// made and shared by every connection of a job.

#include "leakwatch/common/error.hpp"

#include <memory>
#include <string>

namespace leakwatch::http {

struct TlsClientOptions {
  std::string ca_file;  // empty: the system's trust store

  friend bool operator==(const TlsClientOptions&, const TlsClientOptions&) = default;
};

class TlsContext;  // an OpenSSL client context (tls_context.hpp, private to lib/http)

// Errc::io when the CA file cannot be read or parsed (its path and OpenSSL's reason in the message).
common::Result<std::shared_ptr<TlsContext>> make_client_tls(const TlsClientOptions& options);

}  // namespace leakwatch::http
