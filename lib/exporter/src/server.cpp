#include "leakwatch/exporter/server.hpp"

#include "basic_auth.hpp"
#include "connection_table.hpp"
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
#include <prometheus/gauge.h>

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
// The limits of the port (README, "Limits of the port"). Timeouts are deadlines, not inactivity timers, so
// a client trickling one byte a second gains nothing over one that sends nothing.
constexpr auto kIdleTimeout = std::chrono::seconds(30);         // for the first byte of a request
constexpr auto kRequestReadTimeout = std::chrono::seconds(10);  // from that byte to the request's end
constexpr auto kWriteTimeout = std::chrono::seconds(30);        // for a whole response
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(1);
constexpr auto kRefusalWriteTimeout = std::chrono::seconds(2);   // for a 400, 413 or 431 before closing
constexpr auto kLingerTimeout = std::chrono::milliseconds(500);  // after it, discarding what still arrives
constexpr std::size_t kLingerBytes = 256 * 1024;
constexpr std::size_t kHeaderLimit = 32 * 1024;       // request line and header fields
constexpr std::size_t kRequestBodyLimit = 64 * 1024;  // no route takes a body; this only bounds abuse
// Bytes read ahead of the parser (pipelined requests) are bounded too: one whole request of the largest
// allowed size, and a little.
constexpr std::size_t kReadBufferLimit = kHeaderLimit + kRequestBodyLimit + 4096;
constexpr std::size_t kFirstRead = 4096;
// A connection younger than this, or that completed a request or response this recently, is not evicted
// at --web.max-connections: it has not yet had a fair chance to send its request.
constexpr auto kMinQuiet = std::chrono::seconds(1);

// Why the server turned a connection or a request away: leakwatch_web_rejected_total's `reason`.
enum class Rejection {
  tls_handshake,
  client_certificate,
  unauthorized,
  rate_limited,
  auth_busy,
  max_connections,
  evicted,
  request_timeout,
  header_too_large,
  body_too_large,
  bad_request,
};
constexpr std::array<std::string_view, 11> kRejectionNames{
    "tls_handshake", "client_certificate", "unauthorized",     "rate_limited",   "auth_busy",  "max_connections",
    "evicted",       "request_timeout",    "header_too_large", "body_too_large", "bad_request"};

}  // namespace

struct Server::State {
  State(Handlers h, ServerOptions options)
      : handlers(std::move(h)),
        web(std::move(options.web)),
        registry(options.registry ? std::move(options.registry) : std::make_shared<prometheus::Registry>()),
        connections(options.max_connections, kMinQuiet,
                    &prometheus::BuildGauge()
                         .Name("leakwatch_web_connections")
                         .Help("Connections open on leakwatch's own port (at most --web.max-connections).")
                         .Register(*registry)
                         .Add({})) {
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
  ConnectionTable connections;
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

// Answers a request the parser refused, then the connection closes: what follows it cannot be framed.
template <class Stream>
asio::awaitable<void> refuse(Stream& stream, const Request& partial, http::status status, std::string body) {
  Request req;  // only the version of what was parsed; the rest may be anything
  req.version(partial.version() == 10 ? 10 : 11);
  Response res = text_response(req, status, std::move(body));
  res.keep_alive(false);
  auto& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_after(kRefusalWriteTimeout);
  auto [ec, n] = co_await http::async_write(stream, res, kNoThrow);
  if (ec) co_return;  // the peer is gone or stuck; the connection closes either way
  // A lingering close, as Go's server does: closing with unread bytes would send a reset, which can
  // destroy the answer before the client reads it. So stop sending, and discard what still arrives for a
  // moment (bounded in time and bytes).
  boost::system::error_code ignored;
  tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ignored);
  tcp_layer.expires_after(kLingerTimeout);
  std::array<char, 4096> scratch{};
  for (std::size_t drained = 0; drained < kLingerBytes;) {
    auto [rec, got] = co_await tcp_layer.async_read_some(asio::buffer(scratch), kNoThrow);
    if (rec) break;
    drained += got;
  }
}

template <class Stream>
asio::awaitable<void> serve_requests(Stream& stream, Server::State& state, ConnectionTable::Slot& slot) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer(kReadBufferLimit);
  for (;;) {
    if (buffer.size() == 0) {
      // Idle until the first byte of the next request (a pipelined one may already be here).
      tcp_layer.expires_after(kIdleTimeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kFirstRead), kNoThrow);
      if (ec) co_return;  // closed, idle too long, or evicted
      buffer.commit(n);
    }
    // A fresh parser per request, so the limits count this request only.
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kRequestBodyLimit);
    tcp_layer.expires_after(kRequestReadTimeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    if (ec == http::error::header_limit || ec == beast::http::error::buffer_overflow) {
      state.reject(Rejection::header_too_large);
      co_await refuse(stream, parser.get(), http::status::request_header_fields_too_large,
                      "Request Header Fields Too Large\n");
      co_return;
    }
    if (ec == http::error::body_limit) {
      state.reject(Rejection::body_too_large);
      co_await refuse(stream, parser.get(), http::status::payload_too_large, "Payload Too Large\n");
      co_return;
    }
    if (ec == beast::error::timeout) {
      state.reject(Rejection::request_timeout);  // started a request and did not finish it: no answer
      co_return;
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      state.reject(Rejection::bad_request);
      co_await refuse(stream, parser.get(), http::status::bad_request, "Bad Request\n");
      co_return;
    }
    if (ec) co_return;  // closed mid-request, or evicted
    slot.touch();
    Response res = co_await respond(parser.get(), state);
    const bool keep_alive = res.keep_alive();
    tcp_layer.expires_after(kWriteTimeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kNoThrow);
    if (wec || !keep_alive) co_return;
    slot.touch();
  }
}

// `admitted` is moved into a local declared after the stream, so that it leaves the connection table
// before the stream closes the socket (see connection_table.hpp).
asio::awaitable<void> serve_connection(tcp::socket socket, std::shared_ptr<Server::State> state,
                                       ConnectionTable::Slot admitted) {
  const auto security = state->security();  // the config at accept time decides TLS for this connection
  if (!security || !security->tls) {
    beast::tcp_stream stream(std::move(socket));
    ConnectionTable::Slot slot = std::move(admitted);
    co_await serve_requests(stream, *state, slot);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *security->tls);
  ConnectionTable::Slot slot = std::move(admitted);
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
  co_await serve_requests(stream, *state, slot);
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
    auto admission = state_->connections.admit(socket.native_handle());
    if (admission.evicted) state_->reject(Rejection::evicted);
    if (!admission.slot) {
      // Every slot has made progress within kMinQuiet: a flood of working clients. Closing at once costs
      // the least; a client retries.
      state_->reject(Rejection::max_connections);
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve_connection(std::move(socket), state_, std::move(admission.slot)),
                   [](std::exception_ptr e) { log_exception(e, "connection"); });
  }
}

}  // namespace leakwatch::exporter
