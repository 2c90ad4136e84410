// Reading the input of `leakwatch analyze`: a file, standard input, or an HTTP(S) URL.

#include "leakwatch/analyze/source.hpp"

#include "leakwatch/scrape/http_fetcher.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace leakwatch::analyze {
namespace {

namespace asio = boost::asio;
using common::Error;

constexpr std::string_view kDefaultPath = "/debug/pprof/goroutine";

// Result<std::string> cannot be built from a plain string: Error is constructible from one too.
common::Result<std::string> bytes_result(std::string bytes) {
  return common::Result<std::string>{boost::system::in_place_value, std::move(bytes)};
}

bool iequals_prefix(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

int debug_level(pprof::Format f) noexcept {
  switch (f) {
    case pprof::Format::debug0: return 0;
    case pprof::Format::debug1: return 1;
    case pprof::Format::debug2: return 2;
  }
  return 1;
}

// Reads all of `in`, failing past `max_bytes`.
common::Result<std::string> read_stream(std::istream& in, std::uint64_t max_bytes, std::string_view what) {
  std::string out;
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof buffer);
    const auto n = static_cast<std::size_t>(in.gcount());
    if (out.size() + n > max_bytes) {
      return Error{std::string(what) + " exceeds the limit of " + std::to_string(max_bytes) + " bytes"};
    }
    out.append(buffer, n);
  }
  if (in.bad()) return Error{"cannot read " + std::string(what)};
  return bytes_result(std::move(out));
}

common::Result<std::string> read_file(const std::string& path, std::uint64_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Error{"cannot read " + path + ": is a directory"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read " + path + ": " + std::strerror(errno)};
  return read_stream(in, max_bytes, path);
}

std::shared_ptr<asio::ssl::context> client_tls() {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_default_verify_paths(ec);  // the system CAs; without them verification fails, and says so
  return ctx;
}

std::string display_url(const scrape::Endpoint& e) {
  return std::string(e.https ? "https://" : "http://") + e.host_header + e.path;
}

// "scheme://..." with a scheme other than http(s): refused rather than read as a file name.
bool has_other_scheme(std::string_view source) noexcept {
  const std::size_t sep = source.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  for (std::size_t i = 0; i < sep; ++i) {
    const char c = source[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!alpha && (i == 0 || !other)) return false;
  }
  return true;
}

}  // namespace

bool is_url(std::string_view source) noexcept {
  return iequals_prefix(source, "http://") || iequals_prefix(source, "https://");
}

common::Result<scrape::Endpoint> endpoint_from_url(std::string_view text, std::optional<pprof::Format> format) {
  const auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return Error{"bad URL " + std::string(text) + ": " + parsed.error().message()};
  const boost::urls::url_view& url = *parsed;
  scrape::Endpoint e;
  const auto scheme = url.scheme_id();
  if (scheme == boost::urls::scheme::https) {
    e.https = true;
  } else if (scheme != boost::urls::scheme::http) {
    return Error{"bad URL " + std::string(text) + ": only http and https are supported"};
  }
  if (url.has_userinfo()) return Error{"bad URL " + std::string(text) + ": credentials in URLs are not supported"};
  e.host = url.host_address();
  if (e.host.empty()) return Error{"bad URL " + std::string(text) + ": no host"};
  if (url.has_port()) {
    if (url.port().empty() || url.port_number() == 0) return Error{"bad URL " + std::string(text) + ": bad port"};
    e.port = std::to_string(url.port_number());
  } else {
    e.port = e.https ? "443" : "80";
  }
  e.host_header = std::string(url.encoded_host_and_port());
  std::string path(url.encoded_path());
  if (path.empty() || path == "/") path = kDefaultPath;
  std::string query = url.has_query() ? std::string(url.encoded_query()) : std::string();
  if (!url.params().contains("debug")) {
    if (!query.empty()) query += '&';
    query += "debug=" + std::to_string(format ? debug_level(*format) : 1);
  }
  e.path = path + "?" + query;
  e.server_name = e.host;
  return e;
}

common::Result<std::string> fetch_url(const scrape::Endpoint& endpoint, std::chrono::milliseconds timeout,
                                      std::uint64_t max_bytes) {
  asio::io_context io;
  std::shared_ptr<asio::ssl::context> tls;
  if (endpoint.https) tls = client_tls();
  scrape::HttpFetcher fetcher(io.get_executor(), endpoint, tls, max_bytes);
  const auto deadline = scrape::HttpFetcher::Clock::now() + timeout;

  // The fetcher bounds connect, TLS and the exchange by the deadline; name resolution has no deadline of
  // its own in Asio, so a timer cancels whatever is still running when it passes.
  asio::steady_timer watchdog(io, deadline);
  bool expired = false;
  watchdog.async_wait([&](boost::system::error_code ec) {
    if (ec) return;
    expired = true;
    fetcher.cancel();
  });
  std::optional<scrape::FetchResult> result;
  std::string failure;
  asio::co_spawn(io, fetcher.fetch(deadline), [&](std::exception_ptr ep, scrape::FetchResult r) {
    watchdog.cancel();
    if (ep) {
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        failure = e.what();
      }
      return;
    }
    result = std::move(r);
  });
  io.run();

  const std::string what = "GET " + display_url(endpoint);
  if (!result) return Error{what + ": " + (failure.empty() ? "failed" : failure)};
  if (result->outcome != scrape::Outcome::success) {
    if (expired && result->outcome != scrape::Outcome::http_error) {
      return Error{what + ": no answer within " + std::to_string(timeout.count()) + " ms"};
    }
    return Error{what + ": " + result->error};
  }
  return bytes_result(std::move(result->body));
}

common::Result<std::string> read_source(std::string_view source, std::optional<pprof::Format> format,
                                        std::istream& in, std::chrono::milliseconds timeout,
                                        std::uint64_t max_bytes) {
  if (source == "-") return read_stream(in, max_bytes, "standard input");
  if (is_url(source) || has_other_scheme(source)) {
    auto endpoint = endpoint_from_url(source, format);
    if (!endpoint) return endpoint.error();
    return fetch_url(*endpoint, timeout, max_bytes);
  }
  return read_file(std::string(source), max_bytes);
}

}  // namespace leakwatch::analyze
