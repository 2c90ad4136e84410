#pragma once
// The HTTP server on --web.listen-address, on Boost.Beast: an acceptor on its own strand, and one strand
// per connection. Each connection serves keep-alive requests with read deadlines and request size limits,
// and at most `max_connections` are open, so a slow or hostile client holds a bounded part of the server
// for a bounded time, never the whole of it. With a web config (--web.config.file)
// a connection first completes a TLS handshake, and each request passes basic authentication and the rate
// limit before its route runs; the config is looked up anew per connection and per request.

#include "leakwatch/common/error.hpp"
#include "leakwatch/exporter/handlers.hpp"
#include "leakwatch/exporter/web_config_source.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <prometheus/registry.h>

#include <cstddef>
#include <memory>
#include <string_view>

namespace leakwatch::exporter {

// Parses "host:port", ":port" (all interfaces) or "[v6]:port" and resolves the host.
common::Result<boost::asio::ip::tcp::endpoint> parse_listen_address(std::string_view address);

struct ServerOptions {
  std::shared_ptr<WebConfigSource> web;  // null: plain HTTP, no authentication
  // Where leakwatch_web_rejected_total goes; null: a registry of the server's own (tests).
  std::shared_ptr<prometheus::Registry> registry;
  // --web.max-connections: at the limit a new connection displaces the quietest one, or is refused.
  std::size_t max_connections = 512;
};

class Server : public std::enable_shared_from_this<Server> {
 public:
  Server(boost::asio::io_context& io, Handlers handlers, ServerOptions options = {});
  ~Server();

  // Binds and starts accepting. Fails (with a message naming the address) if the address is bad or taken.
  common::Result<boost::asio::ip::tcp::endpoint> listen(std::string_view address);

  // Stops accepting new connections. Thread-safe.
  void stop();

  struct State;  // what connections share: handlers, web config, password checks, rate limit, counters

 private:
  boost::asio::awaitable<void> accept_loop();

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<State> state_;
};

}  // namespace leakwatch::exporter
