#include "leakwatch/http/client.hpp"

#include "leakwatch/common/awaitable.hpp"
#include "leakwatch/common/gzip.hpp"
#include "leakwatch/common/log.hpp"
#include "leakwatch/common/version.hpp"
#include "tls_context.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace leakwatch::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using boost::system::error_code;
using common::kNoThrow;
using common::Outcome;
using common::SteadyTime;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kReadWindow = 64 * 1024;      // Beast reads at most 64 KiB at a time
constexpr std::size_t kErrorBodyLimit = 64 * 1024;  // what an error response's body is kept of

Response failure(Outcome outcome, std::string error, unsigned status = 0) {
  Response r;
  r.outcome = outcome;
  r.error = std::move(error);
  r.status = status;
  return r;
}

// A transport error is a timeout when the stream's deadline fired, otherwise a connection problem.
Response transport_failure(const error_code& ec, std::string_view step) {
  if (ec == beast::error::timeout) return failure(Outcome::timeout, std::string(step) + ": deadline exceeded");
  return failure(Outcome::connect_error, std::string(step) + ": " + ec.message());
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Resolver::resolve as an Asio operation, so a coroutine can co_await it; the result comes back on the
// awaiting coroutine's executor (its strand).
template <class Token>
auto async_resolve(Resolver& resolver, asio::io_context& io, const std::string& host, SteadyTime deadline,
                   std::shared_ptr<Resolver::Pending>& pending, Token&& token) {
  return asio::async_initiate<Token, void(common::Result<Addresses>)>(
      [&resolver, &io, &host, deadline, &pending](auto handler) {
        auto executor = asio::get_associated_executor(handler, io.get_executor());
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        pending = resolver.resolve(io, host, deadline, [shared, executor](common::Result<Addresses> r) mutable {
          asio::dispatch(executor, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
        });
      },
      token);
}

}  // namespace

Endpoint endpoint_for(std::string_view host_port, bool https) {
  Endpoint e;
  const auto colon = host_port.rfind(':');
  std::string_view host = host_port.substr(0, colon);
  e.port = colon == std::string_view::npos ? std::string(https ? "443" : "80")
                                           : std::string(host_port.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  e.host = std::string(host);
  e.host_header = std::string(host_port);
  e.https = https;
  return e;
}

class Client::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, Endpoint endpoint, std::shared_ptr<TlsContext> tls, std::shared_ptr<Resolver> resolver)
      : io_(io),
        strand_(asio::make_strand(io)),
        endpoint_(std::move(endpoint)),
        tls_ctx_(std::move(tls)),
        resolver_(std::move(resolver)),
        user_agent_("leakwatch/" + std::string(common::version())) {
    if (endpoint_.server_name.empty()) endpoint_.server_name = endpoint_.host;
  }

  const Endpoint& endpoint() const noexcept { return endpoint_; }

  void get(Request request, SteadyTime deadline, std::function<void(Response)> done) {
    spawn([self = shared_from_this(), request = std::move(request),
           deadline]() -> asio::awaitable<Response> { co_return co_await self->run_get(request, deadline); },
          std::move(done));
  }

  void stream(Request request, SteadyTime head_deadline, SteadyTime body_deadline,
              std::function<bool(std::string_view)> on_body, std::function<void(Response)> done) {
    spawn(
        [self = shared_from_this(), request = std::move(request), head_deadline, body_deadline,
         on_body = std::move(on_body)]() -> asio::awaitable<Response> {
          co_return co_await self->run_stream(request, head_deadline, body_deadline, on_body);
        },
        std::move(done));
  }

  void cancel() noexcept {
    asio::dispatch(strand_, [self = shared_from_this()] {
      if (self->active_) self->aborted_ = true;
      self->close();
    });
  }

 private:
  template <class Body>
  void spawn(Body body, std::function<void(Response)> done) {
    asio::co_spawn(strand_, std::move(body),
                   [self = shared_from_this(), done = std::move(done)](std::exception_ptr e, Response r) {
                     self->active_ = false;
                     self->aborted_ = false;
                     // Nothing in the exchange is expected to throw (errors are values); if something does
                     // (bad_alloc), the request fails with the reason instead of taking the process down.
                     if (e) {
                       const std::string what = common::describe(e);
                       common::log(*common::logger("http"), spdlog::level::err, "request failed with an exception",
                                   {common::Field{"host", self->endpoint_.host_header}, common::Field{"err", what}});
                       self->reset_connection();
                       r = failure(Outcome::connect_error, "internal error: " + what);
                     }
                     done(std::move(r));
                   });
  }

  bool connected() const noexcept {
    if (tcp_) return tcp_->socket().is_open();
    if (tls_) return beast::get_lowest_layer(*tls_).socket().is_open();
    return false;
  }

  void close() noexcept {
    if (pending_) pending_->cancel();
    error_code ignored;
    if (tcp_) tcp_->socket().close(ignored);
    if (tls_) beast::get_lowest_layer(*tls_).socket().close(ignored);
  }

  void reset_connection() noexcept {
    close();
    tcp_.reset();
    tls_.reset();
    buffer_.clear();
  }

  static Response cancelled() { return failure(Outcome::connect_error, "cancelled"); }

  asio::awaitable<Response> run_get(const Request& request, SteadyTime deadline) {
    active_ = true;
    const bool reuse = request.keep_alive && connected();
    Response r = co_await get_once(request, deadline, reuse);
    // A kept-alive connection may have been closed by the target while idle; that shows up as a transport
    // error before any response. Try once more on a fresh connection, within the same deadline.
    if (reuse && !aborted_ && r.outcome == Outcome::connect_error && r.status == 0 &&
        std::chrono::steady_clock::now() < deadline) {
      r = co_await get_once(request, deadline, false);
    }
    if (!request.keep_alive) reset_connection();
    co_return r;
  }

  asio::awaitable<Response> get_once(const Request& request, SteadyTime deadline, bool reuse) {
    if (!reuse) {
      reset_connection();
      if (auto failed = co_await connect(deadline)) co_return std::move(*failed);
    }
    Response r;
    // Plain if/else rather than ?: around co_await: GCC 12 mishandles temporaries in that form.
    if (tcp_) {
      r = co_await exchange(*tcp_, request, deadline);
    } else {
      r = co_await exchange(*tls_, request, deadline);
    }
    r.reused_connection = reuse;
    co_return r;
  }

  asio::awaitable<Response> run_stream(const Request& request, SteadyTime head_deadline, SteadyTime body_deadline,
                                       const std::function<bool(std::string_view)>& on_body) {
    active_ = true;
    reset_connection();
    Response r;
    if (auto failed = co_await connect(head_deadline)) {
      r = std::move(*failed);
    } else if (tcp_) {
      r = co_await exchange_stream(*tcp_, request, body_deadline, on_body);
    } else {
      r = co_await exchange_stream(*tls_, request, body_deadline, on_body);
    }
    reset_connection();
    co_return r;
  }

  // nullopt when connected (tcp_ or tls_ set), else the failure.
  asio::awaitable<std::optional<Response>> connect(SteadyTime deadline) {
    if (endpoint_.https && !tls_ctx_) co_return failure(Outcome::connect_error, "no TLS context for an https endpoint");
    if (!resolver_) co_return failure(Outcome::connect_error, "no resolver");

    auto resolved = co_await async_resolve(*resolver_, io_, endpoint_.host, deadline, pending_, asio::use_awaitable);
    pending_.reset();
    if (aborted_) co_return cancelled();
    if (!resolved) {
      const auto& err = resolved.error();
      co_return failure(err.code == common::Errc::timeout ? Outcome::timeout : Outcome::connect_error, err.message);
    }
    std::vector<tcp::endpoint> endpoints;
    const auto port = static_cast<unsigned short>(std::stoul(endpoint_.port));
    for (const auto& a : *resolved) endpoints.emplace_back(a, port);

    beast::tcp_stream stream(strand_);
    stream.expires_at(deadline);
    auto [ec, ep] = co_await stream.async_connect(endpoints, kNoThrow);
    if (aborted_) co_return cancelled();
    if (ec) {
      resolver_->forget(endpoint_.host);  // the next attempt looks the name up again
      co_return transport_failure(ec, "connect");
    }
    if (!endpoint_.https) {
      tcp_.emplace(std::move(stream));
      co_return std::nullopt;
    }

    tls_.emplace(std::move(stream), tls_ctx_->ctx);
    beast::get_lowest_layer(*tls_).expires_at(deadline);
    // SNI must be a host name, never an IP literal (RFC 6066 section 3).
    if (!is_ip_literal(endpoint_.server_name) &&
        !SSL_set_tlsext_host_name(tls_->native_handle(), endpoint_.server_name.c_str())) {
      reset_connection();
      co_return failure(Outcome::connect_error, "TLS: cannot set server name");
    }
    if (endpoint_.tls_verify) {
      tls_->set_verify_mode(asio::ssl::verify_peer);
      tls_->set_verify_callback(asio::ssl::host_name_verification(endpoint_.server_name));
    } else {
      tls_->set_verify_mode(asio::ssl::verify_none);
    }
    auto [hec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, kNoThrow);
    if (aborted_) co_return cancelled();
    if (hec) {
      reset_connection();
      co_return transport_failure(hec, "TLS handshake");
    }
    co_return std::nullopt;
  }

  bhttp::request<bhttp::empty_body> make_request(const Request& request) const {
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, request.target, 11};
    req.set(bhttp::field::host, endpoint_.host_header);
    req.set(bhttp::field::user_agent, user_agent_);
    if (request.accept_gzip) req.set(bhttp::field::accept_encoding, "gzip");
    // insert, not set: a header given several values (http_headers) is sent once per value.
    for (const auto& [name, value] : request.headers) req.insert(name, value);
    req.keep_alive(request.keep_alive);
    return req;
  }

  template <class Stream>
  asio::awaitable<Response> exchange(Stream& stream, const Request& request, SteadyTime deadline) {
    beast::get_lowest_layer(stream).expires_at(deadline);
    auto req = make_request(request);
    auto [wec, written] = co_await bhttp::async_write(stream, req, kNoThrow);
    if (aborted_) co_return cancelled();
    if (wec) {
      reset_connection();
      co_return transport_failure(wec, "write request");
    }

    // A fresh parser per response: the body limit counts this response only.
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(request.body_limit);
    // Beast sizes each read by the buffer's free capacity, and the chunked-body parser drains the buffer after
    // every chunk, so an unreserved buffer reads a 16 MiB profile 1-2 KiB at a time (~20k syscalls and timer
    // updates). Reserve a large window for the read and give the memory back afterwards: idle connections
    // then hold no buffer at all.
    buffer_.reserve(kReadWindow);
    auto [ec, n] = co_await bhttp::async_read(stream, buffer_, parser, kNoThrow);
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
    if (aborted_) co_return cancelled();
    const unsigned status = parser.is_header_done() ? parser.get().result_int() : 0;
    if (ec) {
      reset_connection();
      if (ec == bhttp::error::body_limit) {
        co_return failure(Outcome::too_large,
                          "body exceeds the limit of " + std::to_string(request.body_limit) + " bytes", status);
      }
      if (ec == bhttp::error::header_limit) co_return failure(Outcome::too_large, "response header too large", status);
      Response r = transport_failure(ec, "read response");
      r.status = status;
      co_return r;
    }
    // Leftover bytes after a complete response mean the peer pipelined garbage: do not reuse the connection.
    if (!parser.keep_alive() || buffer_.size() != 0) reset_connection();

    auto& res = parser.get();
    if (status != 200) {
      Response r = failure(Outcome::http_error, "HTTP status " + std::to_string(status), status);
      r.body = res.body().substr(0, kErrorBodyLimit);
      co_return r;
    }
    Response r;
    r.status = status;
    const auto encoding = res[bhttp::field::content_encoding];
    if (beast::iequals(encoding, "gzip")) {
      auto inflated = common::gunzip(res.body(), request.body_limit);
      switch (inflated.status) {
        case common::InflateStatus::ok: break;
        case common::InflateStatus::too_large: co_return failure(Outcome::too_large, inflated.error, status);
        case common::InflateStatus::corrupt:
        case common::InflateStatus::truncated: co_return failure(Outcome::parse_error, inflated.error, status);
      }
      r.body = std::move(inflated.out);
    } else if (encoding.empty() || beast::iequals(encoding, "identity")) {
      r.body = std::move(res.body());
    } else {
      co_return failure(Outcome::parse_error, "unsupported Content-Encoding " + std::string(encoding), status);
    }
    r.outcome = Outcome::success;
    co_return r;
  }

  template <class Stream>
  asio::awaitable<Response> exchange_stream(Stream& stream, const Request& request, SteadyTime body_deadline,
                                            const std::function<bool(std::string_view)>& on_body) {
    auto req = make_request(request);
    req.keep_alive(false);
    auto [wec, written] = co_await bhttp::async_write(stream, req, kNoThrow);
    if (aborted_) co_return cancelled();
    if (wec) co_return transport_failure(wec, "write request");

    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(boost::none);  // a watch may stream for as long as its deadline allows
    auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer_, parser, kNoThrow);
    if (aborted_) co_return cancelled();
    if (hec) co_return transport_failure(hec, "read response header");
    Response r;
    r.status = parser.get().result_int();
    if (r.status == 200) {
      r.outcome = Outcome::success;
    } else {
      r.outcome = Outcome::http_error;
      r.error = "HTTP status " + std::to_string(r.status);
    }
    beast::get_lowest_layer(stream).expires_at(body_deadline);
    std::vector<char> chunk(kReadWindow);
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      auto [ec, n] = co_await bhttp::async_read_some(stream, buffer_, parser, kNoThrow);
      if (aborted_) co_return cancelled();
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        Response f = transport_failure(ec, "read response body");
        f.status = r.status;
        co_return f;
      }
      const std::string_view got(chunk.data(), chunk.size() - parser.get().body().size);
      if (r.status != 200) {
        r.body.append(got.substr(0, kErrorBodyLimit - std::min(kErrorBodyLimit, r.body.size())));
        if (r.body.size() >= kErrorBodyLimit) break;  // the start of an error body is enough
        continue;
      }
      if (!got.empty() && !on_body(got)) break;
    }
    co_return r;
  }

  asio::io_context& io_;
  asio::strand<asio::io_context::executor_type> strand_;
  Endpoint endpoint_;
  std::shared_ptr<TlsContext> tls_ctx_;
  std::shared_ptr<Resolver> resolver_;
  std::string user_agent_;
  std::shared_ptr<Resolver::Pending> pending_;
  std::optional<beast::tcp_stream> tcp_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  bool active_ = false;   // a request is in progress
  bool aborted_ = false;  // cancel() came during it
};

Client::Client(asio::io_context& io, Endpoint endpoint, std::shared_ptr<TlsContext> tls,
               std::shared_ptr<Resolver> resolver)
    : impl_(std::make_shared<Impl>(io, std::move(endpoint), std::move(tls), std::move(resolver))) {}

// Not a cancel(): a request in flight holds its own state (and its caller's callback holds the caller), so
// it completes by its deadline; cancelling here would post to an io_context that may be shutting down.
Client::~Client() = default;

void Client::get(Request request, SteadyTime deadline, std::function<void(Response)> done) {
  impl_->get(std::move(request), deadline, std::move(done));
}

void Client::stream(Request request, SteadyTime head_deadline, SteadyTime body_deadline,
                    std::function<bool(std::string_view)> on_body, std::function<void(Response)> done) {
  impl_->stream(std::move(request), head_deadline, body_deadline, std::move(on_body), std::move(done));
}

void Client::cancel() noexcept { impl_->cancel(); }

const Endpoint& Client::endpoint() const noexcept { return impl_->endpoint(); }

namespace {

class HttpFetcher final : public common::Fetcher {
 public:
  HttpFetcher(asio::io_context& io, Endpoint endpoint, Request request, AuthSettings auth,
              std::shared_ptr<TlsContext> tls, std::shared_ptr<Resolver> resolver)
      : io_(io),
        client_(io, std::move(endpoint), std::move(tls), std::move(resolver)),
        request_(std::move(request)),
        auth_(std::move(auth)) {}

  void fetch(const common::FetchRequest& request, SteadyTime deadline,
             std::function<void(common::FetchResult)> done) override {
    Request r = request_;  // the job's headers; the fetch's target and, if it sets one, its limit
    r.target = request.target;
    if (request.body_limit != 0) r.body_limit = std::min(request.body_limit, request_.body_limit);
    // Credentials that cannot be read fail the poll before anything is sent (the error names the file).
    if (auto added = auth_.add_to(r.headers); !added) {
      common::FetchResult failed;
      failed.outcome = common::Outcome::auth_error;
      failed.error = added.error().message;
      asio::post(io_, [done = std::move(done), failed = std::move(failed)]() mutable { done(std::move(failed)); });
      return;
    }
    client_.get(std::move(r), deadline, [done = std::move(done)](Response response) {
      // Refused credentials are their own result: the fix is in the config or the secret, not the target.
      if (response.outcome == common::Outcome::http_error && (response.status == 401 || response.status == 403)) {
        response.outcome = common::Outcome::unauthorized;
      }
      done(std::move(response));
    });
  }
  void cancel() noexcept override { client_.cancel(); }

 private:
  asio::io_context& io_;
  Client client_;
  Request request_;
  RequestAuth auth_;
};

}  // namespace

std::unique_ptr<common::Fetcher> make_fetcher(asio::io_context& io, Endpoint endpoint, Request request,
                                              AuthSettings auth, std::shared_ptr<TlsContext> tls,
                                              std::shared_ptr<Resolver> resolver) {
  return std::make_unique<HttpFetcher>(io, std::move(endpoint), std::move(request), std::move(auth), std::move(tls),
                                       std::move(resolver));
}

}  // namespace leakwatch::http
