#pragma once
// The one HTTP(S) client, on Boost.Beast, for scrape targets, the Kubernetes API and `leakwatch analyze`:
// resolve (through the shared Resolver, with its deadline and cache), connect, TLS with SNI and certificate
// and host-name verification, one request, a size limit while reading and while inflating gzip, all bounded
// by one deadline. A Client talks to one endpoint and keeps its connection alive between get()s.
//
// Beast stays behind this header (the implementation is in client.cpp): modules that only hold clients do
// not compile Asio's and Beast's templates.

#include "leakwatch/common/clock.hpp"
#include "leakwatch/common/fetcher.hpp"
#include "leakwatch/http/auth.hpp"
#include "leakwatch/http/resolver.hpp"
#include "leakwatch/http/tls.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace leakwatch::http {

// Where to connect.
struct Endpoint {
  std::string host;  // name or IP literal (IPv6 without brackets)
  std::string port;
  std::string host_header;  // "host:port" as configured (brackets kept for IPv6)
  bool https = false;
  bool tls_verify = true;   // verify the certificate chain and the server name
  std::string server_name;  // TLS SNI and verification name; empty: host

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// "host:port" or "[v6]:port" (already validated) into an endpoint.
Endpoint endpoint_for(std::string_view host_port, bool https);

struct Request {
  std::string target = "/";  // path and query
  // Extra header fields, e.g. Accept or Authorization. Their values are never logged or reported.
  std::vector<std::pair<std::string, std::string>> headers;
  std::uint64_t body_limit = 64ull << 20;  // the body's size limit, after inflating too
  bool accept_gzip = true;
  bool keep_alive = true;

  friend bool operator==(const Request&, const Request&) = default;
};

// A response: common::FetchResult (outcome, status, body, error). For an HTTP error the body holds the start
// of the error body (at most 64 KiB), which a Kubernetes Status message is read from.
using Response = common::FetchResult;

class Client {
 public:
  // `tls` is required for https endpoints (without it every request fails with connect_error).
  Client(boost::asio::io_context& io, Endpoint endpoint, std::shared_ptr<TlsContext> tls,
         std::shared_ptr<Resolver> resolver);
  ~Client();  // does not cancel: a request in flight completes (call cancel() first to end it early)
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // GET `request.target`, the whole body. `done` runs once, from the io_context, never inside this call.
  // One request at a time.
  void get(Request request, common::SteadyTime deadline, std::function<void(Response)> done);

  // GET whose 200 body is handed to `on_body` piece by piece as it arrives (a Kubernetes watch); `on_body`
  // returns false to stop reading. `head_deadline` bounds connecting and the response head, `body_deadline`
  // the body. Non-200 responses are collected as by get(). The connection is not reused.
  void stream(Request request, common::SteadyTime head_deadline, common::SteadyTime body_deadline,
              std::function<bool(std::string_view)> on_body, std::function<void(Response)> done);

  // Aborts the request in progress and closes the connection. Thread-safe.
  void cancel() noexcept;

  const Endpoint& endpoint() const noexcept;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

// The common::Fetcher for one scrape target: get() of `request` (its headers and body limit) with the
// target each fetch names, and the header fields `auth` adds (a secret file that cannot be read is
// Outcome::auth_error, nothing sent; a 401 or 403 answer is Outcome::unauthorized).
std::unique_ptr<common::Fetcher> make_fetcher(boost::asio::io_context& io, Endpoint endpoint, Request request,
                                              AuthSettings auth, std::shared_ptr<TlsContext> tls,
                                              std::shared_ptr<Resolver> resolver);

}  // namespace leakwatch::http
