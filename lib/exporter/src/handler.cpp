#include "leakwatch/exporter/handler.hpp"

#include "leakwatch/common/gzip.hpp"
#include "leakwatch/common/version.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace leakwatch::exporter {
namespace http = boost::beast::http;

namespace {

Response text(const Request& req, http::status status, std::string body,
              std::string_view type = "text/plain; charset=utf-8") {
  Response res{status, req.version()};
  res.set(http::field::server, "leakwatch/" + std::string(common::version()));
  res.set(http::field::content_type, type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

bool accepts_gzip(const Request& req) {
  // A plain substring test is what scrapers need ("gzip" or "gzip, deflate"); q=0 is not sent by them.
  const auto ae = req[http::field::accept_encoding];
  return ae.find("gzip") != boost::beast::string_view::npos;
}

Response metrics(const Request& req, const Handlers& h) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& weak : h.collectables) {
    if (auto c = weak.lock()) {
      auto more = c->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
  }
  std::ostringstream serialized;
  serialized.imbue(std::locale::classic());  // a decimal comma would break every parser of this format
  prometheus::TextSerializer().Serialize(serialized, families);
  std::string body = std::move(serialized).str();
  for (const auto& write : h.writers) write(body);
  constexpr std::string_view kType = "text/plain; version=0.0.4; charset=utf-8";
  if (accepts_gzip(req)) {
    auto res = text(req, http::status::ok, common::gzip(body), kType);
    res.set(http::field::content_encoding, "gzip");
    res.prepare_payload();
    return res;
  }
  return text(req, http::status::ok, std::move(body), kType);
}

constexpr std::string_view kLanding = R"(<!DOCTYPE html>
<html><head><title>leakwatch</title></head>
<body><h1>leakwatch</h1>
<p>Finds goroutine leaks in Go services from their pprof goroutine profiles.</p>
<ul>
<li><a href="metrics">Metrics</a></li>
<li><a href="-/healthy">Health</a></li>
<li><a href="-/ready">Readiness</a></li>
</ul></body></html>
)";

}  // namespace

Response text_response(const Request& req, http::status status, std::string body) {
  return text(req, status, std::move(body));
}

Response handle_request(const Request& req, const Handlers& h) {
  const auto target = req.target();
  const auto path = target.substr(0, target.find('?'));
  const bool get = req.method() == http::verb::get;
  const bool head = req.method() == http::verb::head;
  // Probes (load balancers, kubelets configured so) may ask with HEAD: the same status, no body.
  const auto probe = [&](Response res) {
    if (head) {
      const auto length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }
    return res;
  };

  if (path == "/metrics") {
    if (!get) return text(req, http::status::method_not_allowed, "Only GET is allowed.\n");
    return metrics(req, h);
  }
  if (path == "/-/healthy") {
    if (!get && !head) return text(req, http::status::method_not_allowed, "Only GET or HEAD is allowed.\n");
    return probe(text(req, http::status::ok, "Healthy.\n"));
  }
  if (path == "/-/ready") {
    if (!get && !head) return text(req, http::status::method_not_allowed, "Only GET or HEAD is allowed.\n");
    if (h.ready && h.ready()) return probe(text(req, http::status::ok, "Ready.\n"));
    return probe(text(req, http::status::service_unavailable, "Not ready.\n"));
  }
  if (path == "/-/reload") {
    if (!h.reload) return text(req, http::status::forbidden, "Lifecycle API is not enabled.\n");
    if (req.method() != http::verb::post && req.method() != http::verb::put) {
      return text(req, http::status::method_not_allowed, "Only POST or PUT requests allowed.\n");
    }
    if (auto err = h.reload())
      return text(req, http::status::internal_server_error, "failed to reload config: " + *err + "\n");
    return text(req, http::status::ok, "Config reloaded.\n");
  }
  if (path == "/" && get) return text(req, http::status::ok, std::string(kLanding), "text/html; charset=utf-8");
  return text(req, http::status::not_found, "Not found.\n");
}

}  // namespace leakwatch::exporter
