// http::Client against a real TCP server on 127.0.0.1:0 that answers with hand-written HTTP, so every
// misbehaviour (hangs, oversized and compressed bodies, closed keep-alive connections) is exact.

#include "leakwatch/http/client.hpp"
#include "leakwatch/common/gzip.hpp"

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace asio = boost::asio;
using asio::ip::tcp;
using leakwatch::common::FetchResult;
using leakwatch::common::Outcome;
using leakwatch::http::Endpoint;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Serves each connection with `handler` on its own io_context thread; stops (and joins) on destruction.
class TestServer {
 public:
  using Handler = std::function<asio::awaitable<void>(tcp::socket&)>;

  explicit TestServer(Handler handler)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), handler_(std::move(handler)) {
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
  std::shared_ptr<leakwatch::http::Resolver> resolver = std::make_shared<leakwatch::http::Resolver>();
  leakwatch::http::Client client;
  leakwatch::http::Request request;

  explicit Client(unsigned short port, std::uint64_t limit = 1 << 20)
      : client(io, leakwatch::http::endpoint_for("127.0.0.1:" + std::to_string(port), false), nullptr, resolver) {
    request.target = "/debug/pprof/goroutine?debug=1";
    request.body_limit = limit;
  }

  FetchResult fetch(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    FetchResult out;
    client.get(request, std::chrono::steady_clock::now() + timeout, [&out](FetchResult r) { out = std::move(r); });
    io.restart();
    io.run();
    return out;
  }
};

}  // namespace

TEST_CASE("fetches a body and reuses the kept-alive connection", "[http]") {
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

TEST_CASE("a gzip-encoded body is inflated", "[http]") {
  const std::string text = "goroutine profile: total 3\n";
  TestServer server([&text](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    if (co_await read_request(s, req))
      co_await write(s, response(leakwatch::common::gzip(text), "Content-Encoding: gzip\r\n"));
  });
  Client client(server.port());
  const auto r = client.fetch();
  REQUIRE(r.outcome == Outcome::success);
  CHECK(r.body == text);
}

TEST_CASE("bodies over the limit are too_large, on the wire and after inflation", "[http]") {
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

TEST_CASE("a target that accepts and never answers times out at the deadline", "[http]") {
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

TEST_CASE("a body that trickles in past the deadline times out", "[http]") {
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

TEST_CASE("a refused connection is a connect_error", "[http]") {
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

TEST_CASE("a non-200 status is an http_error carrying the status", "[http]") {
  TestServer server([](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    if (co_await read_request(s, req)) co_await write(s, response("404 page not found\n", "", 404));
  });
  Client client(server.port());
  const auto r = client.fetch();
  CHECK(r.outcome == Outcome::http_error);
  CHECK(r.status == 404);
}

TEST_CASE("an idle connection closed by the target is replaced transparently", "[http]") {
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

TEST_CASE("an unknown Content-Encoding is a parse_error", "[http]") {
  TestServer server([](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    if (co_await read_request(s, req)) co_await write(s, response("xx", "Content-Encoding: br\r\n"));
  });
  Client client(server.port());
  CHECK(client.fetch().outcome == Outcome::parse_error);
}

TEST_CASE("request headers are sent; a name resolves through the shared resolver", "[http]") {
  std::string seen;
  TestServer server([&seen](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    if (co_await read_request(s, req)) {
      seen = req;
      co_await write(s, response("ok"));
    }
  });
  asio::io_context io;
  auto resolver = std::make_shared<leakwatch::http::Resolver>(
      leakwatch::http::ResolverOptions{},
      [](const std::string& host) -> leakwatch::common::Result<leakwatch::http::Addresses> {
        if (host == "target.test") return leakwatch::http::Addresses{asio::ip::make_address("127.0.0.1")};
        return leakwatch::common::Error(leakwatch::common::Errc::connect, "resolve " + host + ": unknown");
      });
  leakwatch::http::Client client(io,
                                 leakwatch::http::endpoint_for("target.test:" + std::to_string(server.port()), false),
                                 nullptr, resolver);
  leakwatch::http::Request request;
  request.target = "/x";
  request.headers = {{"Authorization", "Bearer s3cret"}, {"Accept", "application/json"}};
  FetchResult out;
  client.get(request, std::chrono::steady_clock::now() + std::chrono::seconds(5),
             [&](FetchResult r) { out = std::move(r); });
  io.run();
  CHECK(out.outcome == Outcome::success);
  CHECK(out.body == "ok");
  CHECK(seen.find("GET /x HTTP/1.1\r\n") == 0);
  CHECK(seen.find("Authorization: Bearer s3cret\r\n") != std::string::npos);
  CHECK(seen.find("Host: target.test:" + std::to_string(server.port())) != std::string::npos);
}

TEST_CASE("stream() hands over a 200 body piece by piece and stops when asked", "[http]") {
  TestServer server([](tcp::socket& s) -> asio::awaitable<void> {
    std::string req;
    if (!co_await read_request(s, req)) co_return;
    co_await write(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; ++i) {
      co_await write(s, "6\r\nline" + std::to_string(i) + "\n\r\n");
      asio::steady_timer t(s.get_executor(), std::chrono::milliseconds(20));
      co_await t.async_wait(kNoThrow);
    }
    co_await write(s, "0\r\n\r\n");
  });
  asio::io_context io;
  auto resolver = std::make_shared<leakwatch::http::Resolver>();
  leakwatch::http::Client client(io, leakwatch::http::endpoint_for("127.0.0.1:" + std::to_string(server.port()), false),
                                 nullptr, resolver);
  std::string body;
  FetchResult out;
  const auto now = std::chrono::steady_clock::now();
  client.stream(
      {}, now + std::chrono::seconds(5), now + std::chrono::seconds(5),
      [&](std::string_view piece) {
        body += piece;
        return true;
      },
      [&](FetchResult r) { out = std::move(r); });
  io.run();
  CHECK(out.outcome == Outcome::success);
  CHECK(out.status == 200);
  CHECK(body == "line0\nline1\nline2\n");

  // Stopping after the first piece ends the request at once.
  io.restart();
  body.clear();
  client.stream(
      {}, now + std::chrono::seconds(5), now + std::chrono::seconds(5),
      [&](std::string_view piece) {
        body += piece;
        return false;
      },
      [&](FetchResult r) { out = std::move(r); });
  io.run();
  CHECK(body == "line0\n");
}

TEST_CASE("cancel() ends a request stuck in name resolution at once", "[http]") {
  // Shared with the worker thread, which may still run after the test returns.
  struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
  };
  auto gate = std::make_shared<Gate>();
  asio::io_context io;
  auto resolver = std::make_shared<leakwatch::http::Resolver>(
      leakwatch::http::ResolverOptions{},
      [gate](const std::string&) -> leakwatch::common::Result<leakwatch::http::Addresses> {
        std::unique_lock lock(gate->m);
        gate->cv.wait(lock, [&] { return gate->release; });  // a lookup that hangs until the test ends
        return leakwatch::common::Error(leakwatch::common::Errc::connect, "late");
      });
  leakwatch::http::Client client(io, leakwatch::http::endpoint_for("hang.test:80", false), nullptr, resolver);
  FetchResult out;
  bool done = false;
  client.get({}, std::chrono::steady_clock::now() + std::chrono::hours(1), [&](FetchResult r) {
    out = std::move(r);
    done = true;
  });
  io.run_for(std::chrono::milliseconds(50));
  CHECK_FALSE(done);
  client.cancel();
  io.restart();
  io.run_for(std::chrono::seconds(2));
  CHECK(done);
  CHECK(out.outcome == Outcome::connect_error);
  CHECK(out.error == "cancelled");
  resolver->shutdown();
  {
    std::lock_guard lock(gate->m);
    gate->release = true;
  }
  gate->cv.notify_all();
}
