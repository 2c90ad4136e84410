// HttpFetcher against a real TCP server on 127.0.0.1:0 that answers with hand-written HTTP, so every
// misbehaviour (hangs, oversized and compressed bodies, closed keep-alive connections) is exact.

#include "leakwatch/common/gzip.hpp"
#include "leakwatch/scrape/http_fetcher.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <thread>

namespace asio = boost::asio;
using asio::ip::tcp;
using leakwatch::scrape::Endpoint;
using leakwatch::scrape::FetchResult;
using leakwatch::scrape::HttpFetcher;
using leakwatch::scrape::Outcome;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Serves each connection with `handler` on its own io_context thread; stops (and joins) on destruction.
class TestServer {
 public:
  using Handler = std::function<asio::awaitable<void>(tcp::socket&)>;

  explicit TestServer(Handler handler) : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), handler_(std::move(handler)) {
    asio::co_spawn(io_, accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    io_.stop();
    thread_.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_.load(); }

 private:
  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (ec) co_return;
      ++connections_;
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }
  asio::awaitable<void> serve(tcp::socket socket) { co_await handler_(socket); }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  Handler handler_;
  std::atomic<int> connections_{0};
  std::thread thread_;
};

// Reads one request head; false when the client closed the connection.
asio::awaitable<bool> read_request(tcp::socket& s, std::string& buf) {
  buf.clear();
  auto [ec, n] = co_await asio::async_read_until(s, asio::dynamic_buffer(buf), "\r\n\r\n", kNoThrow);
  co_return !ec;
}

asio::awaitable<void> write(tcp::socket& s, const std::string& bytes) {
  co_await asio::async_write(s, asio::buffer(bytes), kNoThrow);
}

std::string response(const std::string& body, const std::string& extra_headers = "", int status = 200) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra_headers + "\r\n" + body;
}

struct Client {
  asio::io_context io;
  HttpFetcher fetcher;

  explicit Client(unsigned short port, std::uint64_t limit = 1 << 20)
      : fetcher(io.get_executor(), endpoint(port), nullptr, limit) {}

  static Endpoint endpoint(unsigned short port) {
    Endpoint e;
    e.host = "127.0.0.1";
    e.port = std::to_string(port);
    e.host_header = "127.0.0.1:" + e.port;
    e.path = "/debug/pprof/goroutine?debug=1";
    return e;
  }

  FetchResult fetch(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    FetchResult out;
    asio::co_spawn(io, fetcher.fetch(std::chrono::steady_clock::now() + timeout),
                   [&out](std::exception_ptr e, FetchResult r) {
                     if (e) std::rethrow_exception(e);
                     out = std::move(r);
                   });
    io.restart();
    io.run();
    return out;
  }
};

}  // namespace

TEST_CASE("fetches a body and reuses the kept-alive connection", "[scrape]") {
  std::string seen;
  TestServer server([&seen](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    while (co_await read_request(s, req)) {
      seen = req;
      co_await write(s, response("goroutine profile: total 1\n"));
    }
  });
  Client client(server.port());
  const auto first = client.fetch();
  REQUIRE(first.outcome == Outcome::success);
  CHECK(first.body == "goroutine profile: total 1\n");
  CHECK_FALSE(first.reused_connection);
  CHECK(seen.rfind("GET /debug/pprof/goroutine?debug=1 HTTP/1.1\r\n", 0) == 0);
  CHECK(seen.find("Accept-Encoding: gzip") != std::string::npos);
  CHECK(seen.find("Host: 127.0.0.1:") != std::string::npos);
  const auto second = client.fetch();
  REQUIRE(second.outcome == Outcome::success);
  CHECK(second.reused_connection);
  CHECK(server.connections() == 1);
}

TEST_CASE("a gzip-encoded body is inflated", "[scrape]") {
  const std::string text = "goroutine profile: total 3\n";
  TestServer server([&text](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    if (co_await read_request(s, req)) co_await write(s, response(leakwatch::common::gzip(text), "Content-Encoding: gzip\r\n"));
  });
  Client client(server.port());
  const auto r = client.fetch();
  REQUIRE(r.outcome == Outcome::success);
  CHECK(r.body == text);
}

TEST_CASE("bodies over the limit are too_large, on the wire and after inflation", "[scrape]") {
  SECTION("plain body") {
    TestServer server([](tcp::socket& s) -> asio::awaitable<void> {
      std::string req;
      if (co_await read_request(s, req)) co_await write(s, response(std::string(200'000, 'x')));
    });
    Client client(server.port(), 100'000);
    CHECK(client.fetch().outcome == Outcome::too_large);
  }
  SECTION("gzip bomb") {
    const std::string bomb = leakwatch::common::gzip(std::string(50 << 20, '\0'));
    TestServer server([&bomb](tcp::socket& s) -> asio::awaitable<void> {
      std::string req;
      if (co_await read_request(s, req)) co_await write(s, response(bomb, "Content-Encoding: gzip\r\n"));
    });
    Client client(server.port(), 1 << 20);
    const auto r = client.fetch();
    CHECK(r.outcome == Outcome::too_large);
    CHECK(r.body.empty());
  }
}

TEST_CASE("a target that accepts and never answers times out at the deadline", "[scrape]") {
  TestServer server([](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    co_await read_request(s, req);
    asio::steady_timer forever(s.get_executor(), std::chrono::hours(1));
    co_await forever.async_wait(kNoThrow);
  });
  Client client(server.port());
  const auto r = client.fetch(std::chrono::milliseconds(300));
  CHECK(r.outcome == Outcome::timeout);
}

TEST_CASE("a body that trickles in past the deadline times out", "[scrape]") {
  TestServer server([](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    if (!co_await read_request(s, req)) co_return;
    co_await write(s, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    for (int i = 0; i < 100; ++i) {
      co_await write(s, "x");
      asio::steady_timer t(s.get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(kNoThrow);
    }
  });
  Client client(server.port());
  CHECK(client.fetch(std::chrono::milliseconds(300)).outcome == Outcome::timeout);
}

TEST_CASE("a refused connection is a connect_error", "[scrape]") {
  unsigned short port;
  {
    asio::io_context io;
    tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }  // closed again: nothing listens on `port` now
  Client client(port);
  const auto r = client.fetch();
  CHECK(r.outcome == Outcome::connect_error);
  CHECK(r.error.find("connect") != std::string::npos);
}

TEST_CASE("a non-200 status is an http_error carrying the status", "[scrape]") {
  TestServer server([](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    if (co_await read_request(s, req)) co_await write(s, response("404 page not found\n", "", 404));
  });
  Client client(server.port());
  const auto r = client.fetch();
  CHECK(r.outcome == Outcome::http_error);
  CHECK(r.status == 404);
}

TEST_CASE("an idle connection closed by the target is replaced transparently", "[scrape]") {
  // Answers one request per connection, then closes without saying so (no Connection: close).
  TestServer server([](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    if (co_await read_request(s, req)) co_await write(s, response("goroutine profile: total 1\n"));
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close(ignored);
  });
  Client client(server.port());
  REQUIRE(client.fetch().outcome == Outcome::success);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the close reach our socket
  const auto second = client.fetch();
  CHECK(second.outcome == Outcome::success);
  CHECK(server.connections() == 2);
}

TEST_CASE("an unknown Content-Encoding is a parse_error", "[scrape]") {
  TestServer server([](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    if (co_await read_request(s, req)) co_await write(s, response("xx", "Content-Encoding: br\r\n"));
  });
  Client client(server.port());
  CHECK(client.fetch().outcome == Outcome::parse_error);
}
