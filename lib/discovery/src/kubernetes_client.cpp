#include "kubernetes_client.hpp"

#include "leakwatch/common/version.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <charconv>
#include <vector>

namespace leakwatch::discovery::k8s {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kErrorBodyLimit = 64 * 1024;  // enough for a Status object's message

std::string transport_error(const error_code& ec, std::string_view step) {
  if (ec == beast::error::timeout) return std::string(step) + ": deadline exceeded";
  return std::string(step) + ": " + ec.message();
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

common::Result<ApiServer> parse_api_server(std::string_view url) {
  ApiServer s;
  std::string_view rest;
  if (url.starts_with("https://")) {
    s.https = true;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    s.https = false;
    rest = url.substr(7);
  } else {
    return common::Error("api_server must start with https:// or http://");
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) return common::Error("api_server must not have a query");
  while (path.ends_with('/')) path.remove_suffix(1);
  s.prefix = std::string(path);
  if (authority.find('@') != std::string_view::npos) return common::Error("api_server must not hold credentials");
  s.host_header = std::string(authority);

  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return common::Error("api_server: unterminated IPv6 address");
    s.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return common::Error("api_server: bad port");
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    s.host = std::string(authority);
  }
  if (s.host.empty()) return common::Error("api_server has no host");
  if (port.empty()) {
    s.port = s.https ? "443" : "80";
  } else {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return common::Error("api_server: bad port");
    }
    s.port = std::string(port);
  }
  return s;
}

ApiClient::ApiClient(asio::any_io_executor executor, ApiServer server, std::shared_ptr<asio::ssl::context> tls,
                     std::string server_name, bool verify)
    : executor_(std::move(executor)),
      server_(std::move(server)),
      tls_ctx_(std::move(tls)),
      server_name_(std::move(server_name)),
      verify_(verify),
      user_agent_("leakwatch/" + std::string(common::version())),
      resolver_(executor_) {
  if (server_name_.empty()) server_name_ = server_.host;
}

void ApiClient::close() noexcept {
  resolver_.cancel();
  error_code ignored;
  if (tcp_) tcp_->socket().close(ignored);
  if (tls_) beast::get_lowest_layer(*tls_).socket().close(ignored);
}

void ApiClient::cancel() noexcept {
  cancelled_ = true;
  close();
}

asio::awaitable<std::string> ApiClient::connect(Clock::time_point deadline) {
  close();
  tcp_.reset();
  tls_.reset();
  buffer_.clear();
  if (server_.https && !tls_ctx_) co_return "no TLS context for an https api_server";

  auto [rec, results] = co_await resolver_.async_resolve(server_.host, server_.port, kNoThrow);
  if (cancelled_) co_return "cancelled";
  if (rec) co_return "resolve " + server_.host + ": " + rec.message();
  if (Clock::now() >= deadline) co_return "resolve: deadline exceeded";

  beast::tcp_stream* lowest = nullptr;
  if (server_.https) {
    tls_.emplace(executor_, *tls_ctx_);
    lowest = &beast::get_lowest_layer(*tls_);
  } else {
    tcp_.emplace(executor_);
    lowest = &*tcp_;
  }
  lowest->expires_at(deadline);
  auto [cec, ep] = co_await lowest->async_connect(results, kNoThrow);
  if (cancelled_) co_return "cancelled";
  if (cec) co_return transport_error(cec, "connect");
  if (!server_.https) co_return std::string();

  // SNI must be a host name, never an IP literal (RFC 6066 section 3).
  if (!is_ip_literal(server_name_) && !SSL_set_tlsext_host_name(tls_->native_handle(), server_name_.c_str())) {
    co_return "TLS: cannot set server name";
  }
  if (verify_) {
    tls_->set_verify_mode(asio::ssl::verify_peer);
    tls_->set_verify_callback(asio::ssl::host_name_verification(server_name_));
  } else {
    tls_->set_verify_mode(asio::ssl::verify_none);
  }
  auto [hec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, kNoThrow);
  if (cancelled_) co_return "cancelled";
  if (hec) co_return transport_error(hec, "TLS handshake");
  co_return std::string();
}

asio::awaitable<ApiResponse> ApiClient::get(const std::string& target, const std::string& token,
                                            Clock::time_point deadline, std::uint64_t body_limit) {
  ApiResponse r;
  if (cancelled_) {
    r.error = "cancelled";
    co_return r;
  }
  r.error = co_await connect(deadline);
  if (r.error.empty()) {
    // Plain if/else rather than ?: around co_await: GCC 12 mishandles temporaries in that form.
    if (tcp_) {
      r = co_await exchange(*tcp_, target, token, body_limit, 0, nullptr, std::nullopt);
    } else {
      r = co_await exchange(*tls_, target, token, body_limit, 0, nullptr, std::nullopt);
    }
  }
  close();
  co_return r;
}

asio::awaitable<ApiResponse> ApiClient::stream(const std::string& target, const std::string& token,
                                               Clock::time_point head_deadline, Clock::time_point body_deadline,
                                               std::size_t max_line, LineFn on_line) {
  ApiResponse r;
  if (cancelled_) {
    r.error = "cancelled";
    co_return r;
  }
  r.error = co_await connect(head_deadline);
  if (r.error.empty()) {
    if (tcp_) {
      r = co_await exchange(*tcp_, target, token, kErrorBodyLimit, max_line, &on_line, body_deadline);
    } else {
      r = co_await exchange(*tls_, target, token, kErrorBodyLimit, max_line, &on_line, body_deadline);
    }
  }
  close();
  co_return r;
}

template <class Stream>
asio::awaitable<ApiResponse> ApiClient::exchange(Stream& stream, const std::string& target, const std::string& token,
                                                 std::uint64_t body_limit, std::size_t max_line,
                                                 const LineFn* on_line,
                                                 std::optional<Clock::time_point> body_deadline) {
  ApiResponse r;
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, server_.host_header);
  req.set(http::field::user_agent, user_agent_);
  req.set(http::field::accept, "application/json");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.keep_alive(false);
  auto [wec, written] = co_await http::async_write(stream, req, kNoThrow);
  if (cancelled_) wec = asio::error::operation_aborted;
  if (wec) {
    r.error = transport_error(wec, "write request");
    co_return r;
  }

  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // counted here: per line for a watch, per body otherwise
  auto [hec, hn] = co_await http::async_read_header(stream, buffer_, parser, kNoThrow);
  if (cancelled_) hec = asio::error::operation_aborted;
  if (hec) {
    r.error = transport_error(hec, "read response header");
    co_return r;
  }
  r.status = parser.get().result_int();
  if (body_deadline) beast::get_lowest_layer(stream).expires_at(*body_deadline);
  const bool lines = on_line != nullptr && r.status == 200;
  const std::uint64_t limit = lines ? 0 : (r.status == 200 ? body_limit : std::min<std::uint64_t>(body_limit, kErrorBodyLimit));

  std::vector<char> chunk(kReadChunk);
  std::string pending;  // a watch's partial line
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    auto [ec, n] = co_await http::async_read_some(stream, buffer_, parser, kNoThrow);
    if (cancelled_) ec = asio::error::operation_aborted;
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      r.error = transport_error(ec, "read response body");
      co_return r;
    }
    const std::size_t got = chunk.size() - parser.get().body().size;
    if (!lines) {
      if (r.body.size() + got > limit) {
        if (r.status != 200) break;  // the start of an error body is enough
        r.error = "response body exceeds " + std::to_string(limit) + " bytes";
        co_return r;
      }
      r.body.append(chunk.data(), got);
      continue;
    }
    pending.append(chunk.data(), got);
    std::size_t start = 0;
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
      std::string_view line(pending.data() + start, nl - start);
      start = nl + 1;
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (line.size() > max_line) {
        r.error = "watch event exceeds " + std::to_string(max_line) + " bytes";
        co_return r;
      }
      if (!line.empty() && !(*on_line)(line)) co_return r;
      if (cancelled_) {
        r.error = "cancelled";
        co_return r;
      }
    }
    pending.erase(0, start);
    if (pending.size() > max_line) {
      r.error = "watch event exceeds " + std::to_string(max_line) + " bytes";
      co_return r;
    }
  }
  if (lines && !pending.empty()) (*on_line)(pending);
  co_return r;
}

}  // namespace leakwatch::discovery::k8s
