#pragma once
// HTTP(S) client for one target, on Boost.Beast. It keeps its connection alive between polls, asks for gzip,
// enforces a size limit while reading (and while inflating), and bounds the whole poll (resolve, connect,
// TLS handshake, request, body) by one deadline. Not thread-safe: use it from one strand.

#include "leakwatch/scrape/fetch.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace leakwatch::scrape {

class HttpFetcher {
 public:
  using Clock = std::chrono::steady_clock;

  // `tls` must be set for https endpoints; it may be shared by many fetchers.
  HttpFetcher(boost::asio::any_io_executor executor, Endpoint endpoint,
              std::shared_ptr<boost::asio::ssl::context> tls, std::uint64_t body_limit);

  // One poll. Never throws for network or protocol trouble: that is reported in the result.
  boost::asio::awaitable<FetchResult> fetch(Clock::time_point deadline);

  // Closes the socket, which aborts an operation in progress (it completes with an error). Call it from the
  // strand; the connection objects themselves are released by the next fetch or the destructor.
  void cancel() noexcept;

  const Endpoint& endpoint() const noexcept { return endpoint_; }

 private:
  boost::asio::awaitable<FetchResult> fetch_once(Clock::time_point deadline, bool reuse);
  template <class Stream>
  boost::asio::awaitable<FetchResult> exchange(Stream& stream, Clock::time_point deadline);
  boost::asio::awaitable<std::optional<FetchResult>> connect(Clock::time_point deadline);
  bool connected() const noexcept;
  void reset_connection() noexcept;

  boost::asio::any_io_executor executor_;
  Endpoint endpoint_;
  std::shared_ptr<boost::asio::ssl::context> tls_ctx_;
  std::uint64_t body_limit_;
  std::string user_agent_;
  boost::asio::ip::tcp::resolver resolver_;
  std::optional<boost::asio::ip::tcp::resolver::results_type> resolved_;  // cached until a connect fails
  std::optional<boost::beast::tcp_stream> tcp_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace leakwatch::scrape
