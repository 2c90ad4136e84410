#pragma once
// The HTTP server on --web.listen-address, on Boost.Beast: an acceptor on its own strand, and one strand
// per connection. Each connection serves keep-alive requests with a read deadline and a request size limit,
// so a slow or hostile client holds one connection, never the server.

#include "leakwatch/common/error.hpp"
#include "leakwatch/exporter/handlers.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include <memory>
#include <string_view>

namespace leakwatch::exporter {

// Parses "host:port", ":port" (all interfaces) or "[v6]:port" and resolves the host.
common::Result<boost::asio::ip::tcp::endpoint> parse_listen_address(std::string_view address);

class Server : public std::enable_shared_from_this<Server> {
 public:
  Server(boost::asio::io_context& io, Handlers handlers);

  // Binds and starts accepting. Fails (with a message naming the address) if the address is bad or taken.
  common::Result<boost::asio::ip::tcp::endpoint> listen(std::string_view address);

  // Stops accepting new connections. Thread-safe.
  void stop();

 private:
  boost::asio::awaitable<void> accept_loop();

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<const Handlers> handlers_;
};

}  // namespace leakwatch::exporter
