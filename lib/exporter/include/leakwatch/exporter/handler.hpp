#pragma once
// What the exporter answers, as a plain function from request to response: no sockets, so tests call it
// directly. Routes: GET /metrics, GET /-/healthy, GET /-/ready, POST|PUT /-/reload, GET / (a landing page).

#include "leakwatch/exporter/handlers.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>

namespace leakwatch::exporter {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

Response handle_request(const Request& req, const Handlers& handlers);

// A short text/plain answer with leakwatch's Server header, for what the server refuses before a route runs
// (401, 429, 503).
Response text_response(const Request& req, boost::beast::http::status status, std::string body);

}  // namespace leakwatch::exporter
