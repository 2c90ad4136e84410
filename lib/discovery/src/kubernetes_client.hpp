#pragma once
// The Kubernetes API client under the pod provider: one GET per connection, plain or TLS, with a deadline
// over the whole exchange. get() reads a bounded body; stream() hands a watch's body over line by line.
// Not thread-safe: use it from one strand. Nothing it reports contains the bearer token.

#include "leakwatch/common/error.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace leakwatch::discovery::k8s {

struct ApiServer {
  bool https = true;
  std::string host;         // IPv6 without brackets
  std::string port;
  std::string host_header;  // host[:port] (brackets kept for IPv6)
  std::string prefix;       // path prefix without a trailing slash, e.g. "" or "/k8s/clusters/c-1"
};

// Parses "https://host[:port][/prefix]" (or http://).
common::Result<ApiServer> parse_api_server(std::string_view url);

struct ApiResponse {
  unsigned status = 0;  // 0 when no response head was read
  std::string body;     // get(): the body; stream(): the start of a non-200 body
  std::string error;    // transport trouble or a limit; empty when the exchange completed
};

class ApiClient {
 public:
  using Clock = std::chrono::steady_clock;
  // Returns false to stop reading (the connection is then closed).
  using LineFn = std::function<bool(std::string_view line)>;

  // `tls` is required for https servers.
  ApiClient(boost::asio::any_io_executor executor, ApiServer server, std::shared_ptr<boost::asio::ssl::context> tls,
            std::string server_name, bool verify);

  boost::asio::awaitable<ApiResponse> get(const std::string& target, const std::string& token,
                                          Clock::time_point deadline, std::uint64_t body_limit);

  // A 200 response's body is cut into lines, each given to `on_line` (without the newline); a line longer
  // than `max_line` is an error. Returns when the body ends, on error, or when `on_line` returns false.
  // `head_deadline` bounds connecting and the response head, `body_deadline` the rest.
  boost::asio::awaitable<ApiResponse> stream(const std::string& target, const std::string& token,
                                             Clock::time_point head_deadline, Clock::time_point body_deadline,
                                             std::size_t max_line, LineFn on_line);

  // Aborts the operation in progress and every later one. Call it from the strand.
  void cancel() noexcept;

 private:
  boost::asio::awaitable<std::string> connect(Clock::time_point deadline);
  template <class Stream>
  boost::asio::awaitable<ApiResponse> exchange(Stream& stream, const std::string& target, const std::string& token,
                                               std::uint64_t body_limit, std::size_t max_line, const LineFn* on_line,
                                               std::optional<Clock::time_point> body_deadline);
  void close() noexcept;

  boost::asio::any_io_executor executor_;
  ApiServer server_;
  std::shared_ptr<boost::asio::ssl::context> tls_ctx_;
  std::string server_name_;
  bool verify_;
  std::string user_agent_;
  boost::asio::ip::tcp::resolver resolver_;
  std::optional<boost::beast::tcp_stream> tcp_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  boost::beast::flat_buffer buffer_;
  bool cancelled_ = false;
};

}  // namespace leakwatch::discovery::k8s
