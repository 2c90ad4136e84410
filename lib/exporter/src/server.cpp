#include "leakwatch/exporter/server.hpp"

#include "leakwatch/common/awaitable.hpp"
#include "leakwatch/common/log.hpp"
#include "leakwatch/exporter/handler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>

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
constexpr std::size_t kRequestBodyLimit = 64 * 1024;  // no route takes a body; this only bounds abuse

asio::awaitable<void> serve_connection(tcp::socket socket, std::shared_ptr<const Handlers> handlers) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    // A fresh parser per request, so the limits count this request only.
    http::request_parser<http::string_body> parser;
    parser.body_limit(kRequestBodyLimit);
    stream.expires_after(kIdleTimeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kNoThrow);
    if (ec == http::error::end_of_stream || ec) break;  // closed, timed out or malformed: drop the connection
    Response res = handle_request(parser.get(), *handlers);
    const bool keep_alive = res.keep_alive();
    stream.expires_after(kIdleTimeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kNoThrow);
    if (wec || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
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

Server::Server(asio::io_context& io, Handlers handlers)
    : io_(io),
      strand_(asio::make_strand(io)),
      acceptor_(strand_),
      handlers_(std::make_shared<const Handlers>(std::move(handlers))) {}

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
    asio::co_spawn(executor, serve_connection(std::move(socket), handlers_),
                   [](std::exception_ptr e) { log_exception(e, "connection"); });
  }
}

}  // namespace leakwatch::exporter
