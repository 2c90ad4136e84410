#pragma once
// What the exporter answers, as a plain function from request to response: no sockets, so tests call it
// directly. Routes: GET /metrics, GET /-/healthy, GET /-/ready, POST|PUT /-/reload, GET / (a landing page).

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <prometheus/collectable.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace leakwatch::exporter {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct Handlers {
  // What /metrics serialises, in order: collectables (the daemon's registry) through prometheus-cpp's
  // serializer, then writers that append text exposition themselves (the targets' series).
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables;
  std::vector<std::function<void(std::string& out)>> writers;
  // True once the config is loaded and the scheduler runs; /-/ready answers 503 until then.
  std::function<bool()> ready;
  // Re-reads the config; returns an error message when the new config was refused. Unset: 404 on reload.
  std::function<std::optional<std::string>()> reload;
};

Response handle_request(const Request& req, const Handlers& handlers);

}  // namespace leakwatch::exporter
