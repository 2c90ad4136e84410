#include "leakwatch/exporter/server.hpp"

#include "basic_auth.hpp"
#include "leakwatch/common/awaitable.hpp"
#include "leakwatch/common/log.hpp"
#include "leakwatch/exporter/handler.hpp"
#include "server_tls.hpp"
#include "token_bucket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <prometheus/counter.h>

#include <array>
#include <chrono>
#include <mutex>

namespace leakwatch::exporter {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

using common::kNoThrow;

// The completion handler of every coroutine the server spawns: an exception that escaped one (a bug; errors
// are values) is logged, and ends only that coroutine.
void log_exception(std::exception_ptr e, std::string_view what) {
  if (!e) return;
  common::log(*common::logger("web"), spdlog::level::err, "web server task failed",
              {common::Field{"task", what}, common::Field{"err", common::describe(e)}});
}
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(1);
constexpr std::size_t kRequestBodyLimit = 64 * 1024;  // no route takes a body; this only bounds abuse

// Why the server turned a connection or a request away: leakwatch_web_rejected_total's `reason`.
enum class Rejection { tls_handshake, client_certificate, unauthorized, rate_limited, auth_busy };
constexpr std::array<std::string_view, 5> kRejectionNames{"tls_handshake", "client_certificate", "unauthorized",
                                                          "rate_limited", "auth_busy"};

}  // namespace

struct Server::State {
  State(Handlers h, ServerOptions options)
      : handlers(std::move(h)),
        web(std::move(options.web)),
        registry(options.registry ? std::move(options.registry) : std::make_shared<prometheus::Registry>()) {
    auto& family = prometheus::BuildCounter()
                       .Name("leakwatch_web_rejected_total")
                       .Help("Connections and requests leakwatch's own port turned away, by reason.")
                       .Register(*registry);
    for (std::size_t i = 0; i < kRejectionNames.size(); ++i) {
      rejected[i] = &family.Add({{"reason", std::string(kRejectionNames[i])}});
    }
  }

  std::shared_ptr<const WebSecurity> security() const { return web ? web->current() : nullptr; }
  void reject(Rejection r) { rejected[static_cast<std::size_t>(r)]->Increment(); }

  bool allow(const config::WebConfig& c) {
    std::lock_guard lock(bucket_mutex);
    const auto now = TokenBucket::Clock::now();
    bucket.configure(std::chrono::duration_cast<TokenBucket::Clock::duration>(c.rate_limit_interval),
                     c.rate_limit_burst, now);
    return bucket.allow(now);
  }

  const Handlers handlers;
  const std::shared_ptr<WebConfigSource> web;
  const std::shared_ptr<prometheus::Registry> registry;
  std::array<prometheus::Counter*, kRejectionNames.size()> rejected{};
  PasswordCheck passwords;
  std::mutex bucket_mutex;
  TokenBucket bucket;
};

namespace {

// The answer to one request: the rate limit, then basic authentication, then the route; the web config's
// headers go on every answer, refusals included.
asio::awaitable<Response> respond(const Request& req, Server::State& state) {
  const auto security = state.security();
  const config::WebConfig* web = security ? security->config.get() : nullptr;
  Response res;
  if (web != nullptr && !state.allow(*web)) {
    state.reject(Rejection::rate_limited);
    res = text_response(req, http::status::too_many_requests, "Too Many Requests\n");
  } else if (web != nullptr && !web->basic_auth_users.empty()) {
    auto credentials = parse_basic_auth(req[http::field::authorization]);
    auto verdict = PasswordCheck::Verdict::denied;
    if (credentials) verdict = co_await state.passwords.check(web->basic_auth_users, std::move(*credentials));
    if (verdict == PasswordCheck::Verdict::ok) {
      res = handle_request(req, state.handlers);
    } else if (verdict == PasswordCheck::Verdict::busy) {
      state.reject(Rejection::auth_busy);
      res = text_response(req, http::status::service_unavailable, "Too many password checks in progress.\n");
      res.set(http::field::retry_after, "1");
    } else {
      state.reject(Rejection::unauthorized);
      res = text_response(req, http::status::unauthorized, "Unauthorized\n");
      res.set(http::field::www_authenticate, "Basic");
    }
  } else {
    res = handle_request(req, state.handlers);
  }
  if (web != nullptr) {
    for (const auto& [name, value] : web->headers) res.set(name, value);
  }
  co_return res;
}

template <class Stream>
asio::awaitable<void> serve_requests(Stream& stream, std::shared_ptr<Server::State> state) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    // A fresh parser per request, so the limits count this request only.
    http::request_parser<http::string_body> parser;
    parser.body_limit(kRequestBodyLimit);
    tcp_layer.expires_after(kIdleTimeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    if (ec) break;  // closed, timed out or malformed: drop the connection
    Response res = co_await respond(parser.get(), *state);
    const bool keep_alive = res.keep_alive();
    tcp_layer.expires_after(kIdleTimeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kNoThrow);
    if (wec || !keep_alive) break;
  }
}

asio::awaitable<void> serve_connection(tcp::socket socket, std::shared_ptr<Server::State> state) {
  const auto security = state->security();  // the config at accept time decides TLS for this connection
  if (!security || !security->tls) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve_requests(stream, state);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *security->tls);
  beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kNoThrow);
  if (hec) {
    // Debug only: anyone who can reach the port can cause these, and must not be able to fill the log.
    state->reject(Rejection::tls_handshake);
    common::log(*common::logger("web"), spdlog::level::debug, "TLS handshake failed",
                {common::Field{"err", hec.message()}});
    co_return;
  }
  const auto& allowed = security->config->tls.client_allowed_sans;
  if (!allowed.empty() && !peer_has_allowed_san(stream.native_handle(), allowed)) {
    state->reject(Rejection::client_certificate);
    co_return;
  }
  co_await serve_requests(stream, state);
  beast::get_lowest_layer(stream).expires_after(kTlsShutdownTimeout);
  auto [sec] = co_await stream.async_shutdown(kNoThrow);
  (void)sec;  // the peer may just close; nothing to do either way
}

}  // namespace

common::Result<tcp::endpoint> parse_listen_address(std::string_view address) {
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos)
    return common::Error("listen address \"" + std::string(address) + "\" has no port");
  std::string host(address.substr(0, colon));
  const std::string port(address.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  asio::io_context io;
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(host.empty() ? "::" : host, port,
                                  host.empty() ? tcp::resolver::passive | tcp::resolver::numeric_host
                                               : tcp::resolver::passive,
                                  ec);
  if (ec || results.empty()) {
    return common::Error("listen address \"" + std::string(address) + "\": " + (ec ? ec.message() : "no address"));
  }
  return results.begin()->endpoint();
}

Server::Server(asio::io_context& io, Handlers handlers, ServerOptions options)
    : io_(io),
      strand_(asio::make_strand(io)),
      acceptor_(strand_),
      state_(std::make_shared<State>(std::move(handlers), std::move(options))) {}

Server::~Server() = default;

common::Result<tcp::endpoint> Server::listen(std::string_view address) {
  auto endpoint = parse_listen_address(address);
  if (!endpoint) return endpoint.error();
  boost::system::error_code ec;
  acceptor_.open(endpoint->protocol(), ec);
  if (!ec && endpoint->address().is_v6() && endpoint->address().is_unspecified()) {
    acceptor_.set_option(asio::ip::v6_only(false), ec);  // ":port" means every interface, v4 and v6
  }
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return common::Error("listen on " + std::string(address) + ": " + ec.message());
  const auto local = acceptor_.local_endpoint();
  asio::co_spawn(
      strand_, [self = shared_from_this()] { return self->accept_loop(); },
      [](std::exception_ptr e) { log_exception(e, "accept"); });
  return local;
}

void Server::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

asio::awaitable<void> Server::accept_loop() {
  auto self = shared_from_this();
  while (acceptor_.is_open()) {
    // Each connection gets its own strand; the handlers it calls are thread-safe.
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(io_), kNoThrow);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
    if (ec) {
      // Out of file descriptors and the like: log, back off briefly, keep serving.
      common::log(*common::logger("web"), spdlog::level::warn, "accept failed", {common::Field{"err", ec.message()}});
      asio::steady_timer pause(strand_, std::chrono::milliseconds(100));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve_connection(std::move(socket), state_),
                   [](std::exception_ptr e) { log_exception(e, "connection"); });
  }
}

}  // namespace leakwatch::exporter
