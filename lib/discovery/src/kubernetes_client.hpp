#pragma once
// The Kubernetes API client under the pod provider, on lib/http's Client (resolver cache and deadline, TLS
// 1.2+ with SNI and verification, body limit): get() reads a bounded body; stream() hands a watch's body
// over line by line. Use it from one strand: its coroutines and the watch's line callback run there.
// Nothing it reports contains the bearer token.

#include "leakwatch/common/clock.hpp"
#include "leakwatch/common/error.hpp"
#include "leakwatch/http/client.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace leakwatch::discovery::k8s {

struct ApiServer {
  bool https = true;
  std::string host;  // IPv6 without brackets
  std::string port;
  std::string host_header;  // host[:port] (brackets kept for IPv6)
  std::string prefix;       // path prefix without a trailing slash, e.g. "" or "/k8s/clusters/c-1"
};

// Parses "https://host[:port][/prefix]" (or http://).
common::Result<ApiServer> parse_api_server(std::string_view url);

// A response the server completed: any status (the caller decides what a 403 or a 410 means). For a status
// other than 200 the body is the start of the error body (a Status object), at most 64 KiB.
struct ApiResponse {
  unsigned status = 0;
  std::string body;
};

// Errors: Errc::cancelled after cancel(), Errc::timeout, Errc::connect (resolve, connect, TLS, the
// connection), Errc::too_large (a body over its limit, a watch line over max_line, or watch events that
// arrive faster than they are handled), Errc::invalid (a malformed response).
class ApiClient {
 public:
  // Returns false to stop reading (the connection is then closed).
  using LineFn = std::function<bool(std::string_view line)>;

  // `executor` is the caller's strand; `tls` is required for https servers.
  ApiClient(boost::asio::io_context& io, boost::asio::any_io_executor executor, const ApiServer& server,
            std::shared_ptr<http::TlsContext> tls, std::string server_name, bool verify,
            std::shared_ptr<http::Resolver> resolver);

  boost::asio::awaitable<common::Result<ApiResponse>> get(const std::string& target, const std::string& token,
                                                          common::SteadyTime deadline, std::uint64_t body_limit);

  // A 200 response's body is cut into lines, each given to `on_line` (without the newline, on the caller's
  // strand); a line longer than `max_line` is an error. Returns when the body ends, on error, or when
  // `on_line` returns false. `head_deadline` bounds connecting and the response head, `body_deadline` the rest.
  boost::asio::awaitable<common::Result<ApiResponse>> stream(const std::string& target, const std::string& token,
                                                             common::SteadyTime head_deadline,
                                                             common::SteadyTime body_deadline, std::size_t max_line,
                                                             LineFn on_line);

  // Aborts the operation in progress and every later one. Call it from the strand.
  void cancel() noexcept;

 private:
  http::Request request(const std::string& target, const std::string& token, std::uint64_t body_limit) const;

  boost::asio::any_io_executor executor_;
  http::Client client_;
  bool cancelled_ = false;
};

}  // namespace leakwatch::discovery::k8s
