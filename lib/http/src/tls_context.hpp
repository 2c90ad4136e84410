#pragma once
// What a TlsContext is, for lib/http's own sources only: keeping it out of tls.hpp keeps Asio's SSL headers
// out of every file that merely passes a context along.

#include "leakwatch/http/tls.hpp"

#include <boost/asio/ssl/context.hpp>

namespace leakwatch::http {

class TlsContext {
 public:
  TlsContext() : ctx(boost::asio::ssl::context::tls_client) {}
  boost::asio::ssl::context ctx;
};

}  // namespace leakwatch::http
