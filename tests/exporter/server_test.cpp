// The server on a real loopback socket, driven by a plain blocking client.

#include "leakwatch/exporter/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace leakwatch::exporter;

TEST_CASE("listen addresses", "[exporter]") {
  auto any = parse_listen_address(":9863");
  REQUIRE(any);
  CHECK(any->port() == 9863);
  CHECK(any->address().is_unspecified());
  auto v6 = parse_listen_address("[::1]:80");
  REQUIRE(v6);
  CHECK(v6->address() == asio::ip::make_address("::1"));
  CHECK(parse_listen_address("127.0.0.1:0"));
  CHECK_FALSE(parse_listen_address("127.0.0.1"));
  CHECK_FALSE(parse_listen_address("127.0.0.1:http-ish-nonsense"));
}

TEST_CASE("serves keep-alive requests and refuses a taken port", "[exporter]") {
  asio::io_context io;
  Handlers h;
  h.ready = [] { return true; };
  auto server = std::make_shared<Server>(io, h);
  auto ep = server->listen("127.0.0.1:0");
  REQUIRE(ep);
  std::thread runner([&io] { io.run(); });

  tcp::socket s(io);
  s.connect(*ep);
  beast::flat_buffer buf;
  for (const char* target : {"/-/healthy", "/-/ready", "/missing"}) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "localhost");
    http::write(s, req);
    http::response<http::string_body> res;
    http::read(s, buf, res);
    CHECK(res.keep_alive());
    CHECK(res.result() == (std::string_view(target) == "/missing" ? http::status::not_found : http::status::ok));
  }

  auto second = std::make_shared<Server>(io, h);
  auto taken = second->listen("127.0.0.1:" + std::to_string(ep->port()));
  CHECK_FALSE(taken);
  if (!taken) CHECK(taken.error().message.find("127.0.0.1:") != std::string::npos);

  server->stop();
  io.stop();
  runner.join();
}

TEST_CASE("a malformed request closes only that connection", "[exporter]") {
  asio::io_context io;
  auto server = std::make_shared<Server>(io, Handlers{});
  auto ep = server->listen("127.0.0.1:0");
  REQUIRE(ep);
  std::thread runner([&io] { io.run(); });

  tcp::socket bad(io);
  bad.connect(*ep);
  asio::write(bad, asio::buffer(std::string("NOT HTTP AT ALL\r\n\r\n")));
  char c;
  boost::system::error_code ec;
  bad.read_some(asio::buffer(&c, 1), ec);
  CHECK(ec == asio::error::eof);

  tcp::socket good(io);
  good.connect(*ep);
  http::request<http::empty_body> req{http::verb::get, "/-/healthy", 11};
  http::write(good, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(good, buf, res);
  CHECK(res.result() == http::status::ok);

  server->stop();
  io.stop();
  runner.join();
}
