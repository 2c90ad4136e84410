// Reading the input of `leakwatch analyze`: a file, standard input, or an HTTP(S) URL.

#include "leakwatch/analyze/source.hpp"

#include "leakwatch/common/file.hpp"
#include "leakwatch/http/resolver.hpp"
#include "leakwatch/http/tls.hpp"

#include <boost/asio/io_context.hpp>
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

constexpr std::string_view kDefaultPath = pprof::profile_kind_info(pprof::ProfileKind::goroutine).default_path;

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

// Reads all of `in`, failing past `max_bytes`.
common::Result<std::string> read_stream(std::istream& in, std::uint64_t max_bytes, std::string_view what) {
  std::string out;
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof buffer);
    const auto n = static_cast<std::size_t>(in.gcount());
    if (out.size() + n > max_bytes) {
      return Error{std::string(what) + " is larger than " + std::to_string(max_bytes) + " bytes"};
    }
    out.append(buffer, n);
  }
  if (in.bad()) return Error{"cannot read " + std::string(what)};
  return bytes_result(std::move(out));
}

std::string display_url(const UrlTarget& u) {
  return std::string(u.endpoint.https ? "https://" : "http://") + u.endpoint.host_header + u.path;
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

common::Result<UrlTarget> endpoint_from_url(std::string_view text, std::optional<pprof::Format> format) {
  const auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return Error{"bad URL " + std::string(text) + ": " + parsed.error().message()};
  const boost::urls::url_view& url = *parsed;
  UrlTarget out;
  http::Endpoint& e = out.endpoint;
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
    query += "debug=" + std::to_string(pprof::debug_level(format.value_or(pprof::Format::debug1)));
  }
  out.path = path + "?" + query;
  e.server_name = e.host;
  return out;
}

common::Result<std::string> fetch_url(const UrlTarget& url, std::chrono::milliseconds timeout,
                                      std::uint64_t max_bytes) {
  const std::string what = "GET " + display_url(url);
  std::shared_ptr<http::TlsContext> tls;
  if (url.endpoint.https) {
    auto made = http::make_client_tls({});
    if (!made) return Error{what + ": " + made.error().message};
    tls = *made;
  }
  asio::io_context io;
  auto resolver = std::make_shared<http::Resolver>(http::ResolverOptions{.max_concurrent = 1});
  std::optional<http::Response> result;
  {
    http::Client client(io, url.endpoint, tls, resolver);
    http::Request request;
    request.target = url.path;
    request.body_limit = max_bytes;
    request.keep_alive = false;
    client.get(std::move(request), std::chrono::steady_clock::now() + timeout,
               [&result](http::Response r) { result = std::move(r); });
    io.run();
  }
  // A lookup that never returns must not deliver into `io` after this function has returned.
  resolver->shutdown();
  if (!result) return Error{what + ": failed"};
  if (result->outcome == common::Outcome::timeout) {
    return Error{common::Errc::timeout, what + ": no answer within " + std::to_string(timeout.count()) + " ms"};
  }
  if (result->outcome != common::Outcome::success) return Error{common::Errc::connect, what + ": " + result->error};
  return bytes_result(std::move(result->body));
}

common::Result<std::string> read_source(std::string_view source, std::optional<pprof::Format> format, std::istream& in,
                                        std::chrono::milliseconds timeout, std::uint64_t max_bytes) {
  if (source == "-") return read_stream(in, max_bytes, "standard input");
  if (is_url(source) || has_other_scheme(source)) {
    auto url = endpoint_from_url(source, format);
    if (!url) return url.error();
    return fetch_url(*url, timeout, max_bytes);
  }
  auto bytes = common::read_file(std::string(source), max_bytes);
  if (!bytes) return Error{bytes.error().code, "cannot read " + std::string(source) + ": " + bytes.error().message};
  return bytes;
}

}  // namespace leakwatch::analyze
