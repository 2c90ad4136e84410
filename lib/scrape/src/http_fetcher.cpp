#include "leakwatch/scrape/http_fetcher.hpp"

#include "leakwatch/common/gzip.hpp"
#include "leakwatch/common/version.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>

namespace leakwatch::scrape {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadWindow = 64 * 1024;  // Beast reads at most 64 KiB at a time

FetchResult failure(Outcome outcome, std::string error, unsigned status = 0) {
  FetchResult r;
  r.outcome = outcome;
  r.error = std::move(error);
  r.status = status;
  return r;
}

// A transport error is a timeout when the stream's deadline fired, otherwise a connection problem.
FetchResult transport_failure(const error_code& ec, std::string_view step) {
  if (ec == beast::error::timeout) return failure(Outcome::timeout, std::string(step) + ": deadline exceeded");
  return failure(Outcome::connect_error, std::string(step) + ": " + ec.message());
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

HttpFetcher::HttpFetcher(asio::any_io_executor executor, Endpoint endpoint,
                         std::shared_ptr<asio::ssl::context> tls, std::uint64_t body_limit)
    : executor_(std::move(executor)),
      endpoint_(std::move(endpoint)),
      tls_ctx_(std::move(tls)),
      body_limit_(body_limit),
      user_agent_("leakwatch/" + std::string(common::version())),
      resolver_(executor_) {
  if (endpoint_.server_name.empty()) endpoint_.server_name = endpoint_.host;
}

bool HttpFetcher::connected() const noexcept {
  if (tcp_) return tcp_->socket().is_open();
  if (tls_) return beast::get_lowest_layer(*tls_).socket().is_open();
  return false;
}

void HttpFetcher::cancel() noexcept {
  resolver_.cancel();
  error_code ignored;
  if (tcp_) tcp_->socket().close(ignored);
  if (tls_) beast::get_lowest_layer(*tls_).socket().close(ignored);
}

void HttpFetcher::reset_connection() noexcept {
  cancel();
  tcp_.reset();
  tls_.reset();
  buffer_.consume(buffer_.size());
}

asio::awaitable<FetchResult> HttpFetcher::fetch(Clock::time_point deadline) {
  const bool reuse = connected();
  FetchResult r = co_await fetch_once(deadline, reuse);
  // A kept-alive connection may have been closed by the target while idle; that shows up as a transport
  // error before any response. Try once more on a fresh connection, within the same deadline.
  if (reuse && r.outcome == Outcome::connect_error && r.status == 0 && Clock::now() < deadline) {
    r = co_await fetch_once(deadline, false);
  }
  co_return r;
}

asio::awaitable<FetchResult> HttpFetcher::fetch_once(Clock::time_point deadline, bool reuse) {
  if (!reuse) {
    reset_connection();
    if (auto failed = co_await connect(deadline)) co_return std::move(*failed);
  }
  // Plain if/else rather than ?: around co_await: GCC 12 mishandles temporaries in that form.
  FetchResult r;
  if (tcp_) {
    r = co_await exchange(*tcp_, deadline);
  } else {
    r = co_await exchange(*tls_, deadline);
  }
  r.reused_connection = reuse;
  co_return r;
}

asio::awaitable<std::optional<FetchResult>> HttpFetcher::connect(Clock::time_point deadline) {
  if (endpoint_.https && !tls_ctx_) co_return failure(Outcome::connect_error, "no TLS context for https target");

  // Resolution has no deadline of its own in Asio (getaddrinfo runs on a helper thread), so the result is
  // cached and only looked up again after a failed connect.
  if (!resolved_) {
    auto [ec, results] = co_await resolver_.async_resolve(endpoint_.host, endpoint_.port, kNoThrow);
    if (Clock::now() >= deadline) co_return failure(Outcome::timeout, "resolve: deadline exceeded");
    if (ec) co_return failure(Outcome::connect_error, "resolve " + endpoint_.host + ": " + ec.message());
    resolved_ = std::move(results);
  }

  beast::tcp_stream stream(executor_);
  stream.expires_at(deadline);
  auto [ec, ep] = co_await stream.async_connect(*resolved_, kNoThrow);
  if (ec) {
    resolved_.reset();
    co_return transport_failure(ec, "connect");
  }
  if (!endpoint_.https) {
    tcp_.emplace(std::move(stream));
    co_return std::nullopt;
  }

  tls_.emplace(std::move(stream), *tls_ctx_);
  beast::get_lowest_layer(*tls_).expires_at(deadline);
  // SNI must be a host name, never an IP literal (RFC 6066 section 3).
  if (!is_ip_literal(endpoint_.server_name) &&
      !SSL_set_tlsext_host_name(tls_->native_handle(), endpoint_.server_name.c_str())) {
    reset_connection();
    co_return failure(Outcome::connect_error, "TLS: cannot set server name");
  }
  if (endpoint_.tls_verify) {
    tls_->set_verify_mode(asio::ssl::verify_peer);
    tls_->set_verify_callback(asio::ssl::host_name_verification(endpoint_.server_name));
  } else {
    tls_->set_verify_mode(asio::ssl::verify_none);
  }
  auto [hec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, kNoThrow);
  if (hec) {
    reset_connection();
    co_return transport_failure(hec, "TLS handshake");
  }
  co_return std::nullopt;
}

template <class Stream>
asio::awaitable<FetchResult> HttpFetcher::exchange(Stream& stream, Clock::time_point deadline) {
  beast::get_lowest_layer(stream).expires_at(deadline);

  http::request<http::empty_body> req{http::verb::get, endpoint_.path, 11};
  req.set(http::field::host, endpoint_.host_header);
  req.set(http::field::user_agent, user_agent_);
  req.set(http::field::accept_encoding, "gzip");
  req.keep_alive(true);
  auto [wec, written] = co_await http::async_write(stream, req, kNoThrow);
  if (wec) {
    reset_connection();
    co_return transport_failure(wec, "write request");
  }

  // A fresh parser per response: the body limit counts this response only.
  http::response_parser<http::string_body> parser;
  parser.body_limit(body_limit_);
  // Beast sizes each read by the buffer's free capacity, and the chunked-body parser drains the buffer after
  // every chunk, so an unreserved buffer reads a 16 MiB profile 1-2 KiB at a time (~20k syscalls and timer
  // updates). Reserve a large window for the read and give the memory back afterwards: idle targets then
  // hold no buffer at all.
  buffer_.reserve(kReadWindow);
  auto [ec, n] = co_await http::async_read(stream, buffer_, parser, kNoThrow);
  if (buffer_.size() == 0) buffer_.shrink_to_fit();
  const unsigned status = parser.is_header_done() ? parser.get().result_int() : 0;
  if (ec) {
    reset_connection();
    if (ec == http::error::body_limit) {
      co_return failure(Outcome::too_large, "body exceeds the limit of " + std::to_string(body_limit_) + " bytes",
                     status);
    }
    if (ec == http::error::header_limit) co_return failure(Outcome::too_large, "response header too large", status);
    FetchResult r = transport_failure(ec, "read response");
    r.status = status;
    co_return r;
  }
  // Leftover bytes after a complete response mean the peer pipelined garbage: do not reuse the connection.
  if (!parser.keep_alive() || buffer_.size() != 0) reset_connection();

  auto& res = parser.get();
  if (status != 200) co_return failure(Outcome::http_error, "HTTP status " + std::to_string(status), status);

  FetchResult r;
  r.status = status;
  const auto encoding = res[http::field::content_encoding];
  if (beast::iequals(encoding, "gzip")) {
    auto inflated = common::gunzip(res.body(), body_limit_);
    switch (inflated.status) {
      case common::InflateStatus::ok: break;
      case common::InflateStatus::too_large: co_return failure(Outcome::too_large, inflated.error, status);
      case common::InflateStatus::corrupt:
      case common::InflateStatus::truncated: co_return failure(Outcome::parse_error, inflated.error, status);
    }
    r.body = std::move(inflated.out);
  } else if (encoding.empty() || beast::iequals(encoding, "identity")) {
    r.body = std::move(res.body());
  } else {
    co_return failure(Outcome::parse_error, "unsupported Content-Encoding " + std::string(encoding), status);
  }
  r.outcome = Outcome::success;
  co_return r;
}

}  // namespace leakwatch::scrape
