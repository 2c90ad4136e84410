#include "kubernetes_client.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <mutex>
#include <optional>
#include <utility>

namespace leakwatch::discovery::k8s {
namespace asio = boost::asio;

using common::Errc;
using common::Error;
using common::SteadyTime;

namespace {

constexpr std::size_t kErrorBodyLimit = 64 * 1024;  // what http::Client keeps of an error body

// Watch bytes received but not yet handed to the line callback: the client reads on its own strand while
// the callback runs on the caller's, so a caller that falls far behind ends the watch instead of buffering.
constexpr std::size_t kMinBacklog = 8 << 20;

// An http::Client operation as an Asio operation, so a coroutine can co_await it; the response comes back
// on the awaiting coroutine's executor (its strand), posted after everything the operation posted before.
template <class Start, class Token>
auto async_call(Start start, Token&& token) {
  return asio::async_initiate<Token, void(http::Response)>(
      [start](auto handler) {
        auto executor = asio::get_associated_executor(handler);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start([shared, executor](http::Response r) mutable {
          asio::dispatch(executor, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
        });
      },
      token);
}

// What a finished exchange that was not stopped by the caller means.
common::Result<ApiResponse> to_result(http::Response r) {
  switch (r.outcome) {
    case common::Outcome::success:
    case common::Outcome::http_error:
    case common::Outcome::unauthorized:
      if (r.status != 0) return ApiResponse{r.status, std::move(r.body)};
      return Error(Errc::connect, std::move(r.error));
    case common::Outcome::timeout: return Error(Errc::timeout, std::move(r.error));
    case common::Outcome::too_large: return Error(Errc::too_large, std::move(r.error));
    case common::Outcome::parse_error: return Error(Errc::invalid, std::move(r.error));
    case common::Outcome::connect_error: return Error(Errc::connect, std::move(r.error));
    case common::Outcome::auth_error: return Error(Errc::io, std::move(r.error));
  }
  return Error(Errc::connect, std::move(r.error));
}

http::Endpoint endpoint_of(const ApiServer& server, std::string server_name, bool verify) {
  http::Endpoint e;
  e.host = server.host;
  e.port = server.port;
  e.host_header = server.host_header;
  e.https = server.https;
  e.tls_verify = verify;
  e.server_name = std::move(server_name);
  return e;
}

// A watch body cut into lines. The client hands bytes over on its strand (feed); they are split and given
// to the line callback on the caller's strand (drain), in order.
class LineSplitter : public std::enable_shared_from_this<LineSplitter> {
 public:
  LineSplitter(asio::any_io_executor executor, http::Client& client, std::size_t max_line, ApiClient::LineFn on_line)
      : executor_(std::move(executor)),
        client_(client),
        max_line_(max_line),
        max_backlog_(std::max(kMinBacklog, 4 * max_line)),
        on_line_(std::move(on_line)) {}

  // The client's strand. False stops the read.
  bool feed(std::string_view bytes) {
    if (stop_.load(std::memory_order_acquire)) return false;
    std::lock_guard lock(mutex_);
    if (incoming_.size() + bytes.size() > max_backlog_) {
      overflow_.store(true, std::memory_order_release);
      stop_.store(true, std::memory_order_release);
      return false;
    }
    incoming_.append(bytes);
    if (!drain_posted_) {
      drain_posted_ = true;
      asio::post(executor_, [self = shared_from_this()] { self->drain(); });
    }
    return true;
  }

  // The caller's strand, after the exchange ended: the outcome, given how the body ended.
  common::Result<ApiResponse> finish(http::Response r) {
    if (error_) return std::move(*error_);
    if (overflow_.load(std::memory_order_acquire)) {
      return Error(Errc::too_large, "watch events arrive faster than they are handled");
    }
    if (reader_stopped_) return ApiResponse{200, {}};
    auto result = to_result(std::move(r));
    if (result && result->status == 200 && !pending_.empty()) on_line_(pending_);
    return result;
  }

 private:
  void drain() {
    std::string bytes;
    {
      std::lock_guard lock(mutex_);
      bytes.swap(incoming_);
      drain_posted_ = false;
    }
    if (stop_.load(std::memory_order_acquire)) return;
    pending_.append(bytes);
    std::size_t start = 0;
    for (auto nl = pending_.find('\n'); nl != std::string::npos; nl = pending_.find('\n', start)) {
      std::string_view line(pending_.data() + start, nl - start);
      start = nl + 1;
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (line.size() > max_line_) return fail();
      if (!line.empty() && !on_line_(line)) {
        reader_stopped_ = true;
        return halt();
      }
    }
    pending_.erase(0, start);
    if (pending_.size() > max_line_) fail();
  }

  void fail() {
    error_ = Error(Errc::too_large, "watch event exceeds " + std::to_string(max_line_) + " bytes");
    halt();
  }

  void halt() {
    stop_.store(true, std::memory_order_release);
    client_.cancel();
  }

  asio::any_io_executor executor_;
  http::Client& client_;  // outlives the exchange: the ApiClient awaits it
  const std::size_t max_line_;
  const std::size_t max_backlog_;
  ApiClient::LineFn on_line_;

  std::mutex mutex_;
  std::string incoming_;       // guarded by mutex_
  bool drain_posted_ = false;  // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::atomic<bool> overflow_{false};

  // The caller's strand only.
  std::string pending_;  // a partial line
  std::optional<Error> error_;
  bool reader_stopped_ = false;
};

}  // namespace

common::Result<ApiServer> parse_api_server(std::string_view url) {
  ApiServer s;
  std::string_view rest;
  if (url.starts_with("https://")) {
    s.https = true;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    s.https = false;
    rest = url.substr(7);
  } else {
    return common::Error("api_server must start with https:// or http://");
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) return common::Error("api_server must not have a query");
  while (path.ends_with('/')) path.remove_suffix(1);
  s.prefix = std::string(path);
  if (authority.find('@') != std::string_view::npos) return common::Error("api_server must not hold credentials");
  s.host_header = std::string(authority);

  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return common::Error("api_server: unterminated IPv6 address");
    s.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return common::Error("api_server: bad port");
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    s.host = std::string(authority);
  }
  if (s.host.empty()) return common::Error("api_server has no host");
  if (port.empty()) {
    s.port = s.https ? "443" : "80";
  } else {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      return common::Error("api_server: bad port");
    }
    s.port = std::string(port);
  }
  return s;
}

ApiClient::ApiClient(asio::io_context& io, asio::any_io_executor executor, const ApiServer& server,
                     std::shared_ptr<http::TlsContext> tls, std::string server_name, bool verify,
                     std::shared_ptr<http::Resolver> resolver)
    : executor_(std::move(executor)),
      client_(io, endpoint_of(server, std::move(server_name), verify), std::move(tls), std::move(resolver)) {}

http::Request ApiClient::request(const std::string& target, const std::string& token, std::uint64_t body_limit) const {
  http::Request r;
  r.target = target;
  r.headers.emplace_back("Accept", "application/json");
  if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
  r.body_limit = body_limit;
  r.accept_gzip = false;
  r.keep_alive = true;  // a list's pages share one connection
  return r;
}

void ApiClient::cancel() noexcept {
  cancelled_ = true;
  client_.cancel();
}

asio::awaitable<common::Result<ApiResponse>> ApiClient::get(const std::string& target, const std::string& token,
                                                            SteadyTime deadline, std::uint64_t body_limit) {
  if (cancelled_) co_return Error(Errc::cancelled, "cancelled");
  // The callable given to async_call holds only references and trivially destructible values. Built with
  // GCC 12, a version that captured the request by value freed its header buffer while the client's moved-to
  // copy still used it (ASan: heap-use-after-free in discovery_test): keep owning temporaries out of
  // co_await expressions.
  auto req = request(target, token, body_limit);
  auto r = co_await async_call([this, &req,
                                deadline](auto done) { client_.get(std::move(req), deadline, std::move(done)); },
                               asio::use_awaitable);
  if (cancelled_) co_return Error(Errc::cancelled, "cancelled");
  co_return to_result(std::move(r));
}

asio::awaitable<common::Result<ApiResponse>> ApiClient::stream(const std::string& target, const std::string& token,
                                                               SteadyTime head_deadline, SteadyTime body_deadline,
                                                               std::size_t max_line, LineFn on_line) {
  if (cancelled_) co_return Error(Errc::cancelled, "cancelled");
  auto splitter = std::make_shared<LineSplitter>(executor_, client_, max_line, std::move(on_line));
  auto req = request(target, token, kErrorBodyLimit);
  req.keep_alive = false;
  auto r = co_await async_call(
      [this, &req, head_deadline, body_deadline, &splitter](auto done) {
        client_.stream(
            std::move(req), head_deadline, body_deadline,
            [splitter](std::string_view bytes) { return splitter->feed(bytes); }, std::move(done));
      },
      asio::use_awaitable);
  if (cancelled_) co_return Error(Errc::cancelled, "cancelled");
  co_return splitter->finish(std::move(r));
}

}  // namespace leakwatch::discovery::k8s
