// The server on a real loopback socket, driven by a plain blocking client.

#include "leakwatch/exporter/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace leakwatch::exporter;
using namespace std::chrono_literals;

namespace {

// Everything the server sends until it closes the connection (bounded: the server's answers are short).
std::string read_to_eof(tcp::socket& s) {
  std::string out;
  std::array<char, 4096> chunk{};
  boost::system::error_code ec;
  while (!ec && out.size() < (1u << 20)) {
    const std::size_t n = s.read_some(asio::buffer(chunk), ec);
    out.append(chunk.data(), n);
  }
  return out;
}

// leakwatch_web_rejected_total{reason}, from the registry the server was given.
double rejected(prometheus::Registry& registry, std::string_view reason) {
  for (const auto& family : registry.Collect()) {
    if (family.name != "leakwatch_web_rejected_total") continue;
    for (const auto& m : family.metric) {
      if (!m.label.empty() && m.label[0].value == reason) return m.counter.value;
    }
  }
  return -1;
}

http::status get(tcp::socket& s, std::string_view target = "/-/healthy") {
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "localhost");
  http::write(s, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return res.result();
}

// A server on a loopback port with its own registry, run on one thread until the end of the test.
struct Running {
  explicit Running(ServerOptions options = {}) {
    options.registry = registry;
    Handlers h;
    h.ready = [] { return true; };
    server = std::make_shared<Server>(io, h, std::move(options));
    auto ep = server->listen("127.0.0.1:0");
    REQUIRE(ep);
    endpoint = *ep;
    runner = std::thread([this] { io.run(); });
  }
  ~Running() {
    server->stop();
    io.stop();
    runner.join();
  }
  tcp::socket connect() {
    tcp::socket s(io);
    s.connect(endpoint);
    return s;
  }
  asio::io_context io;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<Server> server;
  tcp::endpoint endpoint;
  std::thread runner;
};

}  // namespace

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
  CHECK(read_to_eof(bad).starts_with("HTTP/1.1 400 "));

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

TEST_CASE("oversized headers and bodies are answered 431 and 413, then the connection closes", "[exporter]") {
  Running r;
  auto big_header = r.connect();
  asio::write(big_header,
              asio::buffer("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Junk: " + std::string(40000, 'a') + "\r\n\r\n"));
  CHECK(read_to_eof(big_header).starts_with("HTTP/1.1 431 "));
  CHECK(rejected(*r.registry, "header_too_large") == 1);

  // Just under the limit is fine.
  auto fits = r.connect();
  asio::write(fits,
              asio::buffer("GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Junk: " + std::string(30000, 'a') + "\r\n\r\n"));
  beast::flat_buffer buf;
  http::response<http::string_body> ok;
  http::read(fits, buf, ok);
  CHECK(ok.result() == http::status::ok);

  auto big_body = r.connect();
  asio::write(big_body,
              asio::buffer(std::string("POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n") +
                           std::string(70000, 'b')));
  CHECK(read_to_eof(big_body).starts_with("HTTP/1.1 413 "));
  CHECK(rejected(*r.registry, "body_too_large") == 1);
  CHECK(rejected(*r.registry, "bad_request") == 0);
}

TEST_CASE("pipelined requests are answered in order", "[exporter]") {
  Running r;
  auto s = r.connect();
  std::string burst;
  for (int i = 0; i < 50; ++i) burst += "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n";
  burst += "GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  asio::write(s, asio::buffer(burst));
  beast::flat_buffer buf;
  for (int i = 0; i < 50; ++i) {
    http::response<http::string_body> res;
    http::read(s, buf, res);
    REQUIRE(res.result() == http::status::ok);
  }
  http::response<http::string_body> last;
  http::read(s, buf, last);
  CHECK(last.result() == http::status::not_found);
}

TEST_CASE("at --web.max-connections a quiet connection makes room; busy ones are kept", "[exporter]") {
  ServerOptions options;
  options.max_connections = 2;
  Running r(std::move(options));

  // Two connections that send half a request line and then nothing (slowloris).
  auto slow1 = r.connect();
  auto slow2 = r.connect();
  asio::write(slow1, asio::buffer(std::string("GET /met")));
  asio::write(slow2, asio::buffer(std::string("GET /met")));
  // Past the grace a connection gets to send its request (kMinQuiet, 1 s).
  std::this_thread::sleep_for(1200ms);

  auto scraper = r.connect();
  CHECK(get(scraper) == http::status::ok);
  CHECK(read_to_eof(slow1).empty());  // the quietest was shut down
  CHECK(rejected(*r.registry, "evicted") == 1);

  // Now the scraper and slow2 hold the two slots, and the scraper just completed a request; slow2 has been
  // quiet for over a second, so it goes next.
  auto second_scraper = r.connect();
  CHECK(get(second_scraper) == http::status::ok);
  CHECK(read_to_eof(slow2).empty());
  CHECK(rejected(*r.registry, "evicted") == 2);

  // Both slots are now connections that just completed a request: a newcomer is refused.
  CHECK(get(scraper) == http::status::ok);
  auto refused = r.connect();
  CHECK(read_to_eof(refused).empty());
  CHECK(rejected(*r.registry, "max_connections") == 1);
  CHECK(get(scraper) == http::status::ok);
  CHECK(get(second_scraper) == http::status::ok);
}
