// Kubernetes pod discovery: the pure pod -> target group function on recorded-style payloads, and the
// provider against a fake API server on 127.0.0.1:0 that serves PodLists and scripted watch streams
// (events, bookmarks, dropped connections, 410 Gone as an HTTP status and as an ERROR event).

#include "leakwatch/discovery/kubernetes.hpp"
#include "leakwatch/http/resolver.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <variant>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace asio = boost::asio;
namespace json = boost::json;
using asio::ip::tcp;
using leakwatch::discovery::KubernetesOptions;
using leakwatch::discovery::make_kubernetes_provider;
using leakwatch::discovery::pod_target;
using leakwatch::discovery::Provider;
using leakwatch::discovery::TargetGroup;
using namespace std::chrono_literals;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr auto kWait = 10s;  // generous: the machines are noisy

std::string testdata(const std::string& name) {
  std::ifstream in(std::string(LEAKWATCH_SOURCE_DIR) + "/tests/discovery/testdata/kubernetes/" + name,
                   std::ios::binary);
  REQUIRE(in);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// A PodList holding the given items of another, with the given metadata.
std::string pod_list(const std::string& source, std::function<bool(const json::object&)> keep, std::string rv,
                     std::string continue_token = "") {
  auto list = json::parse(source).as_object();
  json::array items;
  for (const auto& item : list["items"].as_array()) {
    if (keep(item.as_object())) items.push_back(item);
  }
  list["items"] = std::move(items);
  json::object meta;
  meta["resourceVersion"] = rv;
  if (!continue_token.empty()) meta["continue"] = continue_token;
  list["metadata"] = std::move(meta);
  return json::serialize(list);
}

std::string item_namespace(const json::object& item) {
  return std::string(item.at("metadata").at("namespace").as_string());
}
std::string item_name(const json::object& item) { return std::string(item.at("metadata").at("name").as_string()); }

// ---- fake API server ------------------------------------------------------------------------------------

struct Status {
  int code;
  std::string body;
};
struct Event {
  std::string line;
};
struct Drop {};  // closes the connection mid-stream
struct End {};   // ends the chunked stream cleanly (the server's timeoutSeconds)
using WatchAction = std::variant<Status, Event, Drop, End>;

struct Request {
  std::string target;
  std::string authorization;
  std::string path() const { return target.substr(0, target.find('?')); }
  bool watch() const { return target.find("watch=1") != std::string::npos; }
};

// Lists answer from a per-path queue (the last answer repeats); watches play a per-path script. A Status at
// the front of a script answers the next watch request instead of streaming.
class FakeApiServer {
 public:
  FakeApiServer() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(io_, accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeApiServer() {
    io_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }

  void push_list(const std::string& path, int status, std::string body) {
    std::lock_guard lock(mutex_);
    lists_[path].push_back(Status{status, std::move(body)});
  }
  void push_watch(const std::string& path, std::vector<WatchAction> actions) {
    std::lock_guard lock(mutex_);
    auto& q = watches_[path];
    for (auto& a : actions) q.push_back(std::move(a));
  }
  std::vector<Request> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // Waits for a request matching `pred` among those after the first `skip`.
  bool wait_request(std::function<bool(const Request&)> pred, std::size_t skip = 0) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] {
      return std::any_of(requests_.begin() + static_cast<std::ptrdiff_t>(std::min(skip, requests_.size())),
                         requests_.end(), pred);
    });
  }
  // True when the watch script for `path` has been played to its end.
  bool wait_drained(const std::string& path) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return watches_[path].empty(); });
  }

 private:
  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (ec) co_return;
      asio::co_spawn(io_, serve(std::make_shared<tcp::socket>(std::move(socket))), asio::detached);
    }
  }

  static std::string http_response(int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
  }

  asio::awaitable<void> serve(std::shared_ptr<tcp::socket> socket) {
    std::string buf;
    auto [ec, n] = co_await asio::async_read_until(*socket, asio::dynamic_buffer(buf), "\r\n\r\n", kNoThrow);
    if (ec) co_return;
    Request req;
    const auto sp1 = buf.find(' ');
    const auto sp2 = buf.find(' ', sp1 + 1);
    req.target = buf.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string lower = buf;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (const auto a = lower.find("\r\nauthorization: "); a != std::string::npos) {
      const auto start = a + 17;
      req.authorization = buf.substr(start, buf.find("\r\n", start) - start);
    }
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(req);
    }
    cv_.notify_all();

    if (!req.watch()) {
      Status answer{404, "{}"};
      {
        std::lock_guard lock(mutex_);
        auto& q = lists_[req.path()];
        if (!q.empty()) {
          answer = q.front();
          if (q.size() > 1) q.pop_front();
        }
      }
      co_await asio::async_write(*socket, asio::buffer(http_response(answer.code, answer.body)), kNoThrow);
      co_return;
    }

    {
      std::unique_lock lock(mutex_);
      auto& q = watches_[req.path()];
      if (!q.empty() && std::holds_alternative<Status>(q.front())) {
        auto s = std::get<Status>(q.front());
        q.pop_front();
        lock.unlock();
        cv_.notify_all();
        co_await asio::async_write(*socket, asio::buffer(http_response(s.code, s.body)), kNoThrow);
        co_return;
      }
    }
    co_await asio::async_write(
        *socket,
        asio::buffer(
            std::string("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")),
        kNoThrow);
    // Notice the client going away, so that this stream stops taking actions meant for its successor.
    auto closed = std::make_shared<bool>(false);
    asio::co_spawn(io_, watch_close(socket, closed), asio::detached);
    asio::steady_timer timer(io_);
    while (!*closed) {
      std::optional<WatchAction> action;
      {
        std::lock_guard lock(mutex_);
        auto& q = watches_[req.path()];
        if (!q.empty()) {
          if (std::holds_alternative<Status>(q.front())) {
            action = Drop{};  // meant for the next request
          } else {
            action = std::move(q.front());
            q.pop_front();
          }
        }
      }
      cv_.notify_all();
      if (!action) {
        timer.expires_after(5ms);
        co_await timer.async_wait(kNoThrow);
        continue;
      }
      if (auto* e = std::get_if<Event>(&*action)) {
        std::ostringstream chunk;
        chunk << std::hex << (e->line.size() + 1) << "\r\n" << e->line << "\n\r\n";
        auto [wec, wn] = co_await asio::async_write(*socket, asio::buffer(chunk.str()), kNoThrow);
        if (wec) co_return;
      } else if (std::holds_alternative<End>(*action)) {
        co_await asio::async_write(*socket, asio::buffer(std::string("0\r\n\r\n")), kNoThrow);
        co_return;
      } else {
        boost::system::error_code ignored;
        socket->close(ignored);
        co_return;
      }
    }
  }

  static asio::awaitable<void> watch_close(std::shared_ptr<tcp::socket> socket, std::shared_ptr<bool> closed) {
    char byte = 0;
    co_await socket->async_read_some(asio::buffer(&byte, 1), kNoThrow);
    *closed = true;
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, std::deque<Status>> lists_;
  std::map<std::string, std::deque<WatchAction>> watches_;
  std::vector<Request> requests_;
};

// ---- the provider under test, on its own io_context thread ----------------------------------------------

using Targets = std::vector<std::string>;  // the sorted targets of one update

Targets targets_of(const std::vector<TargetGroup>& groups) {
  Targets out;
  for (const auto& g : groups) out.insert(out.end(), g.targets.begin(), g.targets.end());
  std::sort(out.begin(), out.end());
  return out;
}

class Harness {
 public:
  explicit Harness(KubernetesOptions options) {
    auto made = make_kubernetes_provider(io_, std::move(options), std::make_shared<leakwatch::http::Resolver>());
    REQUIRE(made.has_value());
    provider_ = std::move(*made);
    thread_ = std::thread([this] { io_.run(); });
  }
  // Destroying the provider stops it; the thread ends once nothing is pending any more.
  ~Harness() {
    provider_.reset();
    work_.reset();
    thread_.join();
  }

  void start() {
    provider_->start([this](std::vector<TargetGroup> groups) {
      {
        std::lock_guard lock(mutex_);
        updates_.push_back(std::move(groups));
      }
      cv_.notify_all();
    });
  }

  // Waits until the latest update's targets are `want`.
  bool wait_targets(const Targets& want) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kWait, [&] { return !updates_.empty() && targets_of(updates_.back()) == want; });
  }

  std::vector<std::vector<TargetGroup>> updates() {
    std::lock_guard lock(mutex_);
    return updates_;
  }
  std::vector<Targets> history() {
    std::vector<Targets> out;
    for (const auto& u : updates()) out.push_back(targets_of(u));
    return out;
  }

  // Stops the provider; true when its completion ran within the (generous) wait.
  bool stop() {
    std::promise<void> done;
    auto stopped = done.get_future();
    provider_->stop([&done] { done.set_value(); });
    return stopped.wait_for(kWait) == std::future_status::ready;
  }

 private:
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{io_.get_executor()};
  std::unique_ptr<Provider> provider_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::vector<TargetGroup>> updates_;
};

struct TokenFile {
  std::filesystem::path path;
  explicit TokenFile(const std::string& token) {
    path = std::filesystem::temp_directory_path() /
           ("leakwatch-k8s-token-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    write(token);
  }
  ~TokenFile() { std::filesystem::remove(path); }
  void write(const std::string& token) {
    std::ofstream out(path.string() + ".tmp", std::ios::trunc);
    out << token << "\n";
    out.close();
    std::filesystem::rename(path.string() + ".tmp", path);  // atomically, as kubelet does
  }
};

KubernetesOptions fast_options(const std::string& url, const std::string& token_file) {
  KubernetesOptions o;
  o.api_server = url;
  o.bearer_token_file = token_file;
  o.job_name = "k8s-test";
  o.update_interval = 20ms;
  o.backoff_initial = 20ms;
  o.backoff_max = 200ms;
  o.request_timeout = 10s;
  return o;
}

const std::string kPods = "/api/v1/pods";

}  // namespace

// ---- the pure function ----------------------------------------------------------------------------------

TEST_CASE("pod_target turns annotated running pods into groups", "[discovery][kubernetes]") {
  const auto list = json::parse(testdata("podlist.json"));
  std::map<std::string, leakwatch::discovery::PodTarget> by_name;
  for (const auto& item : list.at("items").as_array()) by_name[item_name(item.as_object())] = pod_target(item);
  REQUIRE(by_name.size() == 9);

  SECTION("the port of the container port named pprof, app from app.kubernetes.io/name") {
    const auto& t = by_name["api-7d9f8b6c5d-x2k4p"];
    CHECK(t.source == "kubernetes/pod/shop/api-7d9f8b6c5d-x2k4p");
    REQUIRE(t.group);
    CHECK(t.group->source == t.source);
    CHECK(t.group->targets == std::vector<std::string>{"10.244.1.17:6061"});
    CHECK(t.group->labels ==
          std::map<std::string, std::string>{
              {"app", "api"}, {"namespace", "shop"}, {"node", "node-a"}, {"pod", "api-7d9f8b6c5d-x2k4p"}});
    CHECK(t.group->profile_path.empty());
  }
  SECTION("port and path annotations win") {
    const auto& t = by_name["worker-0"];
    REQUIRE(t.group);
    CHECK(t.group->targets == std::vector<std::string>{"10.244.2.5:9090"});
    CHECK(t.group->profile_path == "/internal/pprof/goroutine");
    CHECK(t.group->labels.at("app") == "worker");
  }
  SECTION("IPv6 pod addresses are bracketed; the default port is 6060") {
    const auto& t = by_name["gateway-6b7c9-abcde"];
    REQUIRE(t.group);
    CHECK(t.group->targets == std::vector<std::string>{"[fd00:10:244::2a]:6060"});
    CHECK(t.group->labels.at("namespace") == "edge");
    CHECK(t.group->labels.at("node") == "node-v6");
  }
  SECTION("pods that are not targets") {
    for (const auto* name : {"batch-28590412-q7r2z", "cache-5f4d7-zz9k1", "search-0", "starting-1", "done-1"}) {
      INFO(name);
      CHECK_FALSE(by_name[name].group);
      CHECK(by_name[name].problem.empty());
      CHECK_FALSE(by_name[name].source.empty());
    }
  }
  SECTION("a bad port annotation is reported") {
    const auto& t = by_name["badport-1"];
    CHECK_FALSE(t.group);
    CHECK(t.problem.find("leakwatch.io/port") != std::string::npos);
  }
  SECTION("every label name is a valid Prometheus label name") {
    for (const auto& [name, t] : by_name) {
      if (!t.group) continue;
      for (const auto& [label, value] : t.group->labels) {
        CHECK(!label.empty());
        CHECK(!label.starts_with("__"));
        CHECK(std::all_of(label.begin(), label.end(),
                          [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }));
        CHECK(!std::isdigit(static_cast<unsigned char>(label[0])));
      }
    }
  }
}

TEST_CASE("pod_target on watch events and odd objects", "[discovery][kubernetes]") {
  const auto events = lines(testdata("watch_events.jsonl"));
  REQUIRE(events.size() == 8);
  const auto added = pod_target(json::parse(events[0]).at("object"));
  REQUIRE(added.group);
  CHECK(added.group->targets == std::vector<std::string>{"10.244.2.21:6061"});
  const auto unannotated = pod_target(json::parse(events[2]).at("object"));
  CHECK(unannotated.source == "kubernetes/pod/shop/worker-0");
  CHECK_FALSE(unannotated.group);
  const auto bookmark = pod_target(json::parse(events[5]).at("object"));
  CHECK(bookmark.source.empty());
  CHECK_FALSE(pod_target(json::parse("[]")).group);
  CHECK_FALSE(pod_target(json::parse("{\"metadata\":7}")).group);
  CHECK(
      pod_target(
          json::parse(
              R"({"metadata":{"name":"p","namespace":"n","annotations":{"leakwatch.io/scrape":"true","leakwatch.io/path":"no-slash"}},"status":{"phase":"Running","podIP":"10.0.0.1"}})"))
          .problem.find("leakwatch.io/path") != std::string::npos);
  CHECK(
      pod_target(
          json::parse(
              R"({"metadata":{"name":"p","namespace":"n","annotations":{"leakwatch.io/scrape":"true","leakwatch.io/path":"/debug/pprof/goroutine?debug=2"}},"status":{"phase":"Running","podIP":"10.0.0.1"}})"))
          .problem.find("leakwatch.io/path") != std::string::npos);
  CHECK(
      pod_target(
          json::parse(
              R"({"metadata":{"name":"p","namespace":"n","annotations":{"leakwatch.io/scrape":"true","leakwatch.io/port":"70000"}},"status":{"phase":"Running","podIP":"10.0.0.1"}})"))
          .problem.find("leakwatch.io/port") != std::string::npos);
}

TEST_CASE("make_kubernetes_provider checks its options", "[discovery][kubernetes]") {
  asio::io_context io;
  const auto resolver = std::make_shared<leakwatch::http::Resolver>();
  KubernetesOptions o;
  o.api_server = "ftp://example";
  CHECK_FALSE(make_kubernetes_provider(io, o, resolver).has_value());
  o.api_server = "https://[::1";
  CHECK_FALSE(make_kubernetes_provider(io, o, resolver).has_value());
  o.api_server = "https://example:99999";
  CHECK_FALSE(make_kubernetes_provider(io, o, resolver).has_value());
  o.api_server = "https://example:6443";
  o.ca_file = "/nonexistent/ca.crt";
  const auto bad_ca = make_kubernetes_provider(io, o, resolver);
  REQUIRE_FALSE(bad_ca.has_value());
  CHECK(bad_ca.error().message.find("ca_file") != std::string::npos);
  o.ca_file.clear();
  o.insecure_skip_verify = true;
  CHECK(make_kubernetes_provider(io, o, resolver).has_value());
  o.api_server = "http://[::1]:8080/prefix/";
  CHECK(make_kubernetes_provider(io, o, resolver).has_value());
}

// ---- the provider against the fake API server -----------------------------------------------------------

TEST_CASE("list, watch, bookmark, dropped connection and 410 Gone", "[discovery][kubernetes]") {
  const auto podlist = testdata("podlist.json");
  const auto relist = testdata("podlist_relist.json");
  const auto events = lines(testdata("watch_events.jsonl"));
  REQUIRE(events.size() == 8);
  FakeApiServer server;
  server.push_list(kPods, 200, podlist);
  server.push_list(kPods, 200, relist);
  server.push_list(kPods, 200, podlist);
  TokenFile token("test-token");
  Harness h(fast_options(server.url(), token.path.string()));
  h.start();

  const Targets initial{"10.244.1.17:6061", "10.244.2.5:9090", "[fd00:10:244::2a]:6060"};
  REQUIRE(h.wait_targets(initial));
  {
    const auto first = h.updates().front();
    REQUIRE(first.size() == 3);
    CHECK(first[0].source == "kubernetes/pod/edge/gateway-6b7c9-abcde");
    CHECK(first[2].profile_path == "/internal/pprof/goroutine");
  }
  REQUIRE(server.wait_request([](const Request& r) {
    return r.watch() && r.target.find("resourceVersion=1000&allowWatchBookmarks=true") != std::string::npos;
  }));

  // ADDED: a new pod.
  server.push_watch(kPods, {Event{events[0]}});
  Targets s2{"10.244.1.17:6061", "10.244.2.21:6061", "10.244.2.5:9090", "[fd00:10:244::2a]:6060"};
  REQUIRE(h.wait_targets(s2));
  // MODIFIED: the pending batch pod runs.
  server.push_watch(kPods, {Event{events[1]}});
  Targets s3{"10.244.1.17:6061", "10.244.2.21:6061", "10.244.2.5:9090", "10.244.4.2:6060", "[fd00:10:244::2a]:6060"};
  REQUIRE(h.wait_targets(s3));
  // MODIFIED: worker-0 loses its annotation.
  server.push_watch(kPods, {Event{events[2]}});
  Targets s4{"10.244.1.17:6061", "10.244.2.21:6061", "10.244.4.2:6060", "[fd00:10:244::2a]:6060"};
  REQUIRE(h.wait_targets(s4));
  // MODIFIED on a pod that is no target changes nothing; DELETED removes the gateway.
  server.push_watch(kPods, {Event{events[3]}, Event{events[4]}});
  Targets s5{"10.244.1.17:6061", "10.244.2.21:6061", "10.244.4.2:6060"};
  REQUIRE(h.wait_targets(s5));

  // A BOOKMARK, then the connection drops: the watch resumes from the bookmark's resourceVersion.
  const auto before_drop = server.requests().size();
  server.push_watch(kPods, {Event{events[5]}, Drop{}});
  REQUIRE(server.wait_request(
      [](const Request& r) { return r.watch() && r.target.find("resourceVersion=1010&") != std::string::npos; },
      before_drop));
  server.push_watch(kPods, {Event{events[6]}});
  Targets s6{"10.244.1.17:6061", "10.244.2.21:6061", "10.244.4.2:6060", "10.244.5.1:7070"};
  REQUIRE(h.wait_targets(s6));

  // An ERROR event with code 410: re-list (the second PodList), then watch from its resourceVersion.
  server.push_watch(kPods, {Event{events[7]}});
  Targets s7{"10.244.1.17:6061", "10.244.5.1:7071"};
  REQUIRE(h.wait_targets(s7));
  REQUIRE(server.wait_request(
      [](const Request& r) { return r.watch() && r.target.find("resourceVersion=2000&") != std::string::npos; },
      before_drop));
  // That watch drops, and the next one is answered with HTTP 410: re-list again (the first PodList again).
  server.push_watch(kPods, {Status{410, testdata("status_410.json")}});
  REQUIRE(h.wait_targets(initial));
  REQUIRE(server.wait_drained(kPods));
  REQUIRE(server.wait_request(
      [](const Request& r) { return r.watch() && r.target.find("resourceVersion=1000&") != std::string::npos; },
      before_drop));

  CHECK(h.history() == std::vector<Targets>{initial, s2, s3, s4, s5, s6, s7, initial});

  const auto requests = server.requests();
  std::vector<std::string> sequence;
  for (const auto& r : requests) {
    CHECK(r.authorization == "Bearer test-token");
    CHECK(r.path() == kPods);
    if (!r.watch()) {
      CHECK(r.target == "/api/v1/pods?limit=500");
      sequence.push_back("list");
    } else {
      const auto rv = r.target.find("resourceVersion=");
      sequence.push_back("watch " + r.target.substr(rv + 16, r.target.find('&', rv) - rv - 16));
    }
  }
  CHECK(sequence == std::vector<std::string>{"list", "watch 1000", "watch 1010", "list", "watch 2000", "watch 2000",
                                             "list", "watch 1000"});

  REQUIRE(h.stop());
  const auto delivered = h.updates().size();
  std::this_thread::sleep_for(100ms);
  CHECK(h.updates().size() == delivered);
}

TEST_CASE("namespaces, pagination, errors with backoff and a rotated token", "[discovery][kubernetes]") {
  const auto podlist = testdata("podlist.json");
  const std::string shop = "/api/v1/namespaces/shop/pods";
  const std::string edge = "/api/v1/namespaces/edge/pods";
  FakeApiServer server;
  // shop: forbidden at first, then two pages.
  server.push_list(shop, 403, testdata("status_403.json"));
  server.push_list(shop, 200,
                   pod_list(
                       podlist, [](const json::object& i) { return item_namespace(i) == "shop" && item_name(i) < "b"; },
                       "1200", "page-2 token"));
  server.push_list(shop, 200,
                   pod_list(
                       podlist,
                       [](const json::object& i) { return item_namespace(i) == "shop" && item_name(i) >= "b"; },
                       "1200"));
  server.push_list(edge, 200,
                   pod_list(
                       podlist, [](const json::object& i) { return item_namespace(i) == "edge"; }, "1300"));

  TokenFile token("token-1");
  auto options = fast_options(server.url(), token.path.string());
  options.namespaces = {"shop", "edge"};
  Harness h(options);
  h.start();

  const Targets all{"10.244.1.17:6061", "10.244.2.5:9090", "[fd00:10:244::2a]:6060"};
  REQUIRE(h.wait_targets(all));
  // The edge namespace's set was not held back by the shop namespace's failing list.
  CHECK(h.history().front() == Targets{"[fd00:10:244::2a]:6060"});
  REQUIRE(server.wait_request([&](const Request& r) {
    return r.path() == shop && r.watch() && r.target.find("resourceVersion=1200&") != std::string::npos;
  }));
  REQUIRE(server.wait_request([&](const Request& r) {
    return r.path() == edge && r.watch() && r.target.find("resourceVersion=1300&") != std::string::npos;
  }));
  std::vector<std::string> shop_lists;
  for (const auto& r : server.requests()) {
    if (r.path() == shop && !r.watch()) shop_lists.push_back(r.target);
  }
  CHECK(shop_lists == std::vector<std::string>{"/api/v1/namespaces/shop/pods?limit=500",
                                               "/api/v1/namespaces/shop/pods?limit=500",
                                               "/api/v1/namespaces/shop/pods?limit=500&continue=page-2%20token"});

  // The token rotates; the watch ends (the server's timeoutSeconds) and the next one carries the new token.
  const auto before = server.requests().size();
  token.write("token-2");
  server.push_watch(shop, {End{}});
  REQUIRE(server.wait_request([&](const Request& r) { return r.path() == shop && r.watch(); }, before));
  for (const auto& r : server.requests()) {
    CHECK((r.authorization == "Bearer token-1" || r.authorization == "Bearer token-2"));
  }
  CHECK(server.requests().back().authorization == "Bearer token-2");

  REQUIRE(h.stop());
}

TEST_CASE("stop() ends a provider stuck on a silent server", "[discovery][kubernetes]") {
  // Accepts connections and never answers.
  asio::io_context sio;
  tcp::acceptor acceptor(sio, {asio::ip::make_address("127.0.0.1"), 0});
  std::vector<std::shared_ptr<tcp::socket>> held;
  std::function<void()> accept_one = [&] {
    acceptor.async_accept([&](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      held.push_back(std::make_shared<tcp::socket>(std::move(s)));
      accept_one();
    });
  };
  accept_one();
  std::thread sthread([&] { sio.run(); });

  TokenFile token("t");
  auto options = fast_options("http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()),
                              token.path.string());
  options.request_timeout = 60s;
  {
    Harness h(options);
    h.start();
    std::this_thread::sleep_for(100ms);
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(h.stop());
    CHECK(std::chrono::steady_clock::now() - t0 < kWait);
    CHECK(h.updates().empty());
  }
  {
    // Destroying a started provider without stop() is safe too.
    Harness h(options);
    h.start();
    std::this_thread::sleep_for(50ms);
  }
  asio::post(sio, [&] {
    acceptor.close();
    held.clear();
  });
  sthread.join();
}

TEST_CASE("an unreachable API server keeps retrying until stopped", "[discovery][kubernetes]") {
  // A port nobody listens on: bind one, remember it, close it.
  unsigned short port = 0;
  {
    asio::io_context tmp;
    tcp::acceptor a(tmp, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  TokenFile token("t");
  Harness h(fast_options("http://127.0.0.1:" + std::to_string(port), token.path.string()));
  h.start();
  // The failed first list still settles the provider: an empty set is delivered.
  {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (h.updates().empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  }
  REQUIRE(h.updates().size() == 1);
  CHECK(h.updates().front().empty());
  REQUIRE(h.stop());
}

TEST_CASE("the number of pods and the size of a watch event are bounded", "[discovery][kubernetes]") {
  const auto events = lines(testdata("watch_events.jsonl"));
  FakeApiServer server;
  server.push_list(kPods, 200, testdata("podlist.json"));
  TokenFile token("t");
  auto options = fast_options(server.url(), token.path.string());
  options.max_pods = 2;
  options.max_line_bytes = 400;
  REQUIRE(events[0].size() > 400);
  Harness h(options);
  h.start();
  // Three pods qualify; the first two listed are kept.
  REQUIRE(h.wait_targets({"10.244.1.17:6061", "10.244.2.5:9090"}));
  REQUIRE(server.wait_request([](const Request& r) { return r.watch(); }));
  // An oversized event cannot be skipped without losing that pod's state: the provider re-lists.
  server.push_watch(kPods, {Event{events[0]}});
  REQUIRE(server.wait_request([](const Request& r) { return !r.watch(); }, 2));
  CHECK(h.updates().size() == 1);
  REQUIRE(h.stop());
}

// ---- TLS ------------------------------------------------------------------------------------------------

namespace {

struct SelfSigned {
  std::string cert_pem;
  std::string key_pem;
};

// A fresh P-256 key and a self-signed certificate for 127.0.0.1 (and kubernetes.default.svc).
SelfSigned self_signed() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key != nullptr);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::random_device{}() & 0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("kubernetes"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       std::vector<std::pair<int, const char*>>{{NID_subject_alt_name, "IP:127.0.0.1,DNS:kubernetes.default.svc"},
                                                {NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext != nullptr);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
  auto pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
  };
  SelfSigned out;
  out.cert_pem = pem([&](BIO* b) { PEM_write_bio_X509(b, x); });
  out.key_pem = pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

struct TempFile {
  std::filesystem::path path;
  TempFile(const std::string& stem, const std::string& content) {
    path = std::filesystem::temp_directory_path() /
           (stem + "-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".pem");
    std::ofstream(path) << content;
  }
  ~TempFile() { std::filesystem::remove(path); }
};

// Serves a PodList and then a watch with one event over TLS, and records the Authorization headers.
class TlsApiServer {
 public:
  TlsApiServer(const SelfSigned& cert, std::string list, std::string event)
      : ssl_(asio::ssl::context::tls_server),
        acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}),
        list_(std::move(list)),
        event_(std::move(event)) {
    ssl_.use_certificate_chain(asio::buffer(cert.cert_pem));
    ssl_.use_private_key(asio::buffer(cert.key_pem), asio::ssl::context::pem);
    asio::co_spawn(io_, accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsApiServer() {
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  std::vector<std::string> authorizations() {
    std::lock_guard lock(mutex_);
    return authorizations_;
  }

 private:
  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (ec) co_return;
      asio::co_spawn(io_, serve(std::make_shared<asio::ssl::stream<tcp::socket>>(std::move(socket), ssl_)),
                     asio::detached);
    }
  }
  asio::awaitable<void> serve(std::shared_ptr<asio::ssl::stream<tcp::socket>> s) {
    auto [hec] = co_await s->async_handshake(asio::ssl::stream_base::server, kNoThrow);
    if (hec) co_return;
    std::string buf;
    auto [ec, n] = co_await asio::async_read_until(*s, asio::dynamic_buffer(buf), "\r\n\r\n", kNoThrow);
    if (ec) co_return;
    {
      std::lock_guard lock(mutex_);
      const auto a = buf.find("\r\nAuthorization: ");
      authorizations_.push_back(a == std::string::npos ? "" : buf.substr(a + 17, buf.find("\r\n", a + 17) - a - 17));
    }
    std::string out;
    if (buf.find("watch=1") == std::string::npos) {
      out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(list_.size()) +
            "\r\n\r\n" + list_;
    } else {
      std::ostringstream chunk;
      chunk << "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            << std::hex << (event_.size() + 1) << "\r\n"
            << event_ << "\n\r\n";
      out = chunk.str();
    }
    co_await asio::async_write(*s, asio::buffer(out), kNoThrow);
    char byte = 0;
    co_await s->async_read_some(asio::buffer(&byte, 1), kNoThrow);  // hold the watch open until the client leaves
  }

  asio::io_context io_;
  asio::ssl::context ssl_;
  tcp::acceptor acceptor_;
  std::string list_;
  std::string event_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> authorizations_;
};

}  // namespace

TEST_CASE("lists and watches over TLS, verifying the server against ca_file", "[discovery][kubernetes]") {
  const auto cert = self_signed();
  const auto events = lines(testdata("watch_events.jsonl"));
  TlsApiServer server(cert, testdata("podlist.json"), events[0]);
  TokenFile token("tls-token");

  SECTION("the right CA: targets arrive, with the token") {
    TempFile ca("leakwatch-k8s-ca", cert.cert_pem);
    auto options = fast_options(server.url(), token.path.string());
    options.ca_file = ca.path.string();
    Harness h(options);
    h.start();
    REQUIRE(h.wait_targets({"10.244.1.17:6061", "10.244.2.21:6061", "10.244.2.5:9090", "[fd00:10:244::2a]:6060"}));
    REQUIRE(h.stop());
    const auto auth = server.authorizations();
    REQUIRE(auth.size() >= 2);
    for (const auto& a : auth) CHECK(a == "Bearer tls-token");
  }
  SECTION("another CA: the handshake fails, nothing is sent, an empty set is delivered") {
    TempFile ca("leakwatch-k8s-other-ca", self_signed().cert_pem);
    auto options = fast_options(server.url(), token.path.string());
    options.ca_file = ca.path.string();
    Harness h(options);
    h.start();
    REQUIRE(h.wait_targets({}));
    REQUIRE(h.stop());
    CHECK(server.authorizations().empty());
  }
  SECTION("a server name the certificate does not hold fails too") {
    TempFile ca("leakwatch-k8s-ca", cert.cert_pem);
    auto options = fast_options(server.url(), token.path.string());
    options.ca_file = ca.path.string();
    options.server_name = "api.example.com";
    Harness h(options);
    h.start();
    REQUIRE(h.wait_targets({}));
    REQUIRE(h.stop());
    CHECK(server.authorizations().empty());
  }
}
