#include "leakwatch/discovery/kubernetes.hpp"

#include "kubernetes_client.hpp"
#include "leakwatch/common/awaitable.hpp"
#include "leakwatch/common/file.hpp"
#include "leakwatch/common/log.hpp"
#include "leakwatch/config/config.hpp"
#include "leakwatch/http/tls.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <random>

namespace leakwatch::discovery {
namespace asio = boost::asio;
namespace json = boost::json;
using boost::system::error_code;

namespace {

constexpr std::string_view kScrapeAnnotation = "leakwatch.io/scrape";
constexpr std::string_view kPortAnnotation = "leakwatch.io/port";
constexpr std::string_view kPathAnnotation = "leakwatch.io/path";
constexpr unsigned kDefaultPort = 6060;
constexpr std::string_view kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount/";
constexpr std::size_t kMaxTokenBytes = 64 * 1024;
using common::kNoThrow;

// Null for anything but an object member holding an object / a string.
const json::object* child_object(const json::object* o, std::string_view key) {
  if (o == nullptr) return nullptr;
  const auto* v = o->if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

std::string_view child_string(const json::object* o, std::string_view key) {
  if (o == nullptr) return {};
  const auto* v = o->if_contains(key);
  if (v == nullptr) return {};
  const auto* s = v->if_string();
  return s != nullptr ? std::string_view(*s) : std::string_view{};
}

std::optional<unsigned> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return value;
}

// The first container port named "pprof", if any.
std::optional<unsigned> named_pprof_port(const json::object* spec) {
  if (spec == nullptr) return std::nullopt;
  const auto* containers = spec->if_contains("containers");
  if (containers == nullptr || !containers->is_array()) return std::nullopt;
  for (const auto& c : containers->get_array()) {
    const auto* ports = c.is_object() ? c.get_object().if_contains("ports") : nullptr;
    if (ports == nullptr || !ports->is_array()) continue;
    for (const auto& p : ports->get_array()) {
      if (!p.is_object() || child_string(&p.get_object(), "name") != "pprof") continue;
      const auto* number = p.get_object().if_contains("containerPort");
      if (number != nullptr && number->is_int64() && number->get_int64() > 0 && number->get_int64() <= 65535) {
        return static_cast<unsigned>(number->get_int64());
      }
    }
  }
  return std::nullopt;
}

// The bearer token, re-read for every request so a rotated (projected) token is picked up. Empty path: none.
common::Result<std::string> read_token(const std::string& path) {
  if (path.empty()) return common::Result<std::string>(boost::system::in_place_value);
  auto token = common::read_file(path, kMaxTokenBytes);
  if (!token) return common::Error(token.error().code, "bearer_token_file " + path + ": " + token.error().message);
  while (!token->empty() && std::isspace(static_cast<unsigned char>(token->back()))) token->pop_back();
  if (token->find_first_of("\r\n") != std::string::npos) {
    return common::Error("bearer_token_file " + path + " holds more than one line");
  }
  return token;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string resource_version(const json::object* o) {
  return std::string(child_string(child_object(o, "metadata"), "resourceVersion"));
}

// "HTTP status 403: pods is forbidden: ..." from a Status body when there is one.
std::string status_error(unsigned status, const std::string& body) {
  std::string out = "HTTP status " + std::to_string(status);
  error_code ec;
  const auto v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const auto message = child_string(&v.get_object(), "message");
    if (!message.empty()) out += ": " + std::string(message.substr(0, 300));
  }
  return out;
}

}  // namespace

PodTarget pod_target(const json::value& pod) {
  PodTarget out;
  const auto* obj = pod.if_object();
  const auto* meta = child_object(obj, "metadata");
  const auto ns = child_string(meta, "namespace");
  const auto name = child_string(meta, "name");
  if (name.empty()) return out;
  out.source = "kubernetes/pod/" + std::string(ns) + "/" + std::string(name);

  const auto* annotations = child_object(meta, "annotations");
  if (child_string(annotations, kScrapeAnnotation) != "true") return out;
  const auto* status = child_object(obj, "status");
  const auto ip = child_string(status, "podIP");
  if (ip.empty() || child_string(status, "phase") != "Running") return out;

  unsigned port = kDefaultPort;
  const auto* spec = child_object(obj, "spec");
  if (annotations->contains(kPortAnnotation)) {
    const auto text = child_string(annotations, kPortAnnotation);
    const auto parsed = parse_port(text);
    if (!parsed) {
      out.problem = "invalid " + std::string(kPortAnnotation) + " annotation \"" + std::string(text.substr(0, 64)) +
                    "\"";
      return out;
    }
    port = *parsed;
  } else if (const auto named = named_pprof_port(spec)) {
    port = *named;
  }

  TargetGroup g;
  g.source = out.source;
  if (annotations->contains(kPathAnnotation)) {
    const auto path = child_string(annotations, kPathAnnotation);
    if (const auto ok = config::check_profile_path(path); !ok) {
      out.problem = "invalid " + std::string(kPathAnnotation) + " annotation: " + ok.error().message;
      return out;
    }
    g.profile_path = std::string(path);
  }
  const bool v6 = ip.find(':') != std::string_view::npos;
  g.targets.push_back((v6 ? "[" + std::string(ip) + "]" : std::string(ip)) + ":" + std::to_string(port));
  g.labels["namespace"] = std::string(ns);
  g.labels["pod"] = std::string(name);
  const auto* labels = child_object(meta, "labels");
  auto app = child_string(labels, "app.kubernetes.io/name");
  if (app.empty()) app = child_string(labels, "app");
  if (!app.empty()) g.labels["app"] = std::string(app);
  const auto node = child_string(spec, "nodeName");
  if (!node.empty()) g.labels["node"] = std::string(node);
  out.group = std::move(g);
  return out;
}

namespace {

using Strand = asio::strand<asio::io_context::executor_type>;
using SteadyClock = std::chrono::steady_clock;

// The list+watch state of one namespace (or of all namespaces).
struct PodStream {
  PodStream(std::string ns, std::unique_ptr<k8s::ApiClient> c, const Strand& strand)
      : namespace_name(std::move(ns)), client(std::move(c)), timer(strand) {}

  std::string namespace_name;  // empty: all namespaces
  std::unique_ptr<k8s::ApiClient> client;
  asio::steady_timer timer;                 // backoff
  std::map<std::string, TargetGroup> pods;  // target pods by source
  std::string resource_version;
  bool settled = false;    // its first list finished (or failed)
  std::string last_error;  // logged once per state change
  bool overflow_logged = false;
};

class KubernetesDiscoverer : public std::enable_shared_from_this<KubernetesDiscoverer> {
 public:
  KubernetesDiscoverer(asio::io_context& io, KubernetesOptions options, const k8s::ApiServer& server,
                       std::shared_ptr<http::TlsContext> tls, std::shared_ptr<http::Resolver> resolver)
      : strand_(asio::make_strand(io)),
        options_(std::move(options)),
        flush_timer_(strand_),
        log_(common::logger("discovery")) {
    auto namespaces = options_.namespaces;
    std::sort(namespaces.begin(), namespaces.end());
    namespaces.erase(std::unique(namespaces.begin(), namespaces.end()), namespaces.end());
    if (namespaces.empty()) namespaces.emplace_back();
    for (auto& ns : namespaces) {
      auto client = std::make_unique<k8s::ApiClient>(io, strand_, server, tls, options_.server_name,
                                                     !options_.insecure_skip_verify, resolver);
      streams_.push_back(std::make_unique<PodStream>(std::move(ns), std::move(client), strand_));
    }
    prefix_ = server.prefix;
  }

  void start(UpdateFn update) {
    asio::dispatch(strand_, [self = shared_from_this(), update = std::move(update)]() mutable {
      if (self->started_ || self->stopping_) return;
      self->started_ = true;
      self->update_ = std::move(update);
      for (auto& s : self->streams_) {
        ++self->running_;
        asio::co_spawn(self->strand_, self->run(*s), [self](std::exception_ptr e) {
          if (e) {
            common::log(*self->log_, spdlog::level::err, "kubernetes discovery failed",
                        {{"job", self->options_.job_name}, {"err", common::describe(e)}});
          }
          if (--self->running_ == 0 && self->stopping_) self->finish();
        });
      }
    });
  }

  void stop(std::function<void()> done) {
    asio::dispatch(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
      if (done) self->on_stopped_.push_back(std::move(done));
      if (!self->stopping_) {
        self->stopping_ = true;
        self->flush_timer_.cancel();
        for (auto& s : self->streams_) {
          s->client->cancel();
          s->timer.cancel();
        }
      }
      if (self->running_ == 0) self->finish();
    });
  }

 private:
  void finish() {
    auto callbacks = std::move(on_stopped_);
    on_stopped_.clear();
    update_ = nullptr;
    for (auto& cb : callbacks) cb();
  }

  std::string pods_path(const PodStream& s) const {
    if (s.namespace_name.empty()) return prefix_ + "/api/v1/pods";
    return prefix_ + "/api/v1/namespaces/" + url_encode(s.namespace_name) + "/pods";
  }

  std::size_t tracked() const {
    std::size_t n = 0;
    for (const auto& s : streams_) n += s->pods.size();
    return n;
  }

  void log_error(PodStream& s, const std::string& error) {
    if (error == s.last_error) return;
    s.last_error = error;
    common::log(*log_, spdlog::level::warn, "kubernetes discovery error, retrying",
                {{"job", options_.job_name}, {"namespace", s.namespace_name}, {"err", error}});
  }

  void log_ok(PodStream& s) {
    if (s.last_error.empty()) return;
    s.last_error.clear();
    common::log(*log_, spdlog::level::info, "kubernetes discovery recovered",
                {{"job", options_.job_name}, {"namespace", s.namespace_name}});
  }

  // Applies one pod object to `pods` (the stream's set, or the one a list is building); true when it changed.
  bool apply(PodStream& s, std::map<std::string, TargetGroup>& pods, const json::value& pod, bool deleted) {
    auto t = pod_target(pod);
    if (t.source.empty()) return false;
    if (!t.problem.empty()) {
      common::log(*log_, spdlog::level::warn, "pod not scraped",
                  {{"job", options_.job_name}, {"pod", t.source}, {"err", t.problem}});
    }
    if (deleted || !t.group) return pods.erase(t.source) > 0;
    auto it = pods.find(t.source);
    if (it != pods.end()) {
      if (it->second == *t.group) return false;
      it->second = std::move(*t.group);
      return true;
    }
    const std::size_t others = tracked() - s.pods.size();  // the other namespaces' targets
    if (others + pods.size() >= options_.max_pods) {
      if (!s.overflow_logged) {
        s.overflow_logged = true;
        common::log(*log_, spdlog::level::warn, "too many target pods, ignoring the rest",
                    {{"job", options_.job_name}, {"limit", std::to_string(options_.max_pods)}});
      }
      return false;
    }
    pods.emplace(t.source, std::move(*t.group));
    return true;
  }

  enum class Step { ok, gone, failed, stopped };
  struct StepResult {
    Step step = Step::ok;
    std::string error;
    bool progress = false;  // a watch delivered events before it ended
    bool relist = false;    // the watch failed in a way that resuming would repeat
  };

  asio::awaitable<void> run(PodStream& s) {
    auto self = shared_from_this();
    auto backoff = options_.backoff_initial;
    bool need_list = true;
    bool fresh_list = false;                         // no watch has made progress since the last list
    auto relist_backoff = options_.backoff_initial;  // for lists that expire before their watch starts
    while (!stopping_) {
      if (need_list) {
        auto r = co_await list(s);
        if (r.step == Step::stopped || stopping_) break;
        const bool first = !s.settled;
        s.settled = true;
        if (r.step == Step::ok) {
          need_list = false;
          fresh_list = true;
          backoff = options_.backoff_initial;
          log_ok(s);
          mark_dirty();
        } else {
          if (first) mark_dirty();  // the other namespaces' sets need not wait for this one
          log_error(s, "list pods: " + r.error);
          if (!co_await sleep(s, backoff)) break;
          backoff = std::min(backoff * 2, options_.backoff_max);
          continue;
        }
      }
      auto w = co_await watch(s);
      if (w.step == Step::stopped || stopping_) break;
      if (w.progress) {
        fresh_list = false;
        backoff = options_.backoff_initial;
        relist_backoff = options_.backoff_initial;
        log_ok(s);
      }
      switch (w.step) {
        case Step::ok:
          if (w.progress) continue;  // the server ended the watch (timeoutSeconds): resume from there
          break;                     // an empty watch: pause before the next, lest we spin
        case Step::gone:
          common::log(*log_, spdlog::level::debug, "resourceVersion expired, re-listing pods",
                      {{"job", options_.job_name}, {"namespace", s.namespace_name}});
          need_list = true;
          if (!fresh_list) continue;  // re-list at once, as client-go does, unless the list just made has
          // expired already: then pause, longer each time, lest the API server be flooded with lists.
          if (!co_await sleep(s, relist_backoff)) co_return;
          relist_backoff = std::min(relist_backoff * 2, options_.backoff_max);
          continue;
        case Step::failed: log_error(s, "watch pods: " + w.error); break;
        case Step::stopped: break;
      }
      if (!co_await sleep(s, backoff)) break;
      if (w.step == Step::failed) backoff = std::min(backoff * 2, options_.backoff_max);
      if (w.relist) need_list = true;
    }
  }

  // False when stopped.
  asio::awaitable<bool> sleep(PodStream& s, std::chrono::milliseconds d) {
    s.timer.expires_after(d);
    co_await s.timer.async_wait(kNoThrow);
    co_return !stopping_;
  }

  asio::awaitable<StepResult> list(PodStream& s) {
    StepResult out;
    std::map<std::string, TargetGroup> fresh;
    std::string continue_token;
    std::string rv;
    int restarts = 0;
    for (;;) {
      const auto token = read_token(options_.bearer_token_file);
      if (!token) {
        out.step = Step::failed;
        out.error = token.error().message;
        co_return out;
      }
      std::string target = pods_path(s) + "?limit=" + std::to_string(options_.page_size);
      if (!continue_token.empty()) target += "&continue=" + url_encode(continue_token);
      auto r = co_await s.client->get(target, *token, SteadyClock::now() + options_.request_timeout,
                                      options_.max_page_bytes);
      if (stopping_) {
        out.step = Step::stopped;
        co_return out;
      }
      if (!r) {
        out.step = Step::failed;
        out.error = r.error().message;
        co_return out;
      }
      if (r->status == 410 && !continue_token.empty() && ++restarts <= 3) {
        // The continue token expired between pages: start the list over.
        continue_token.clear();
        fresh.clear();
        continue;
      }
      if (r->status != 200) {
        out.step = Step::failed;
        out.error = status_error(r->status, r->body);
        co_return out;
      }
      error_code ec;
      const auto v = json::parse(r->body, ec);
      r->body.clear();
      r->body.shrink_to_fit();
      const auto* obj = v.if_object();
      const auto* items = obj != nullptr ? obj->if_contains("items") : nullptr;
      if (ec || items == nullptr || !(items->is_array() || items->is_null())) {
        out.step = Step::failed;
        out.error = ec ? "invalid JSON: " + ec.message() : "not a PodList";
        co_return out;
      }
      if (items->is_array()) {
        for (const auto& pod : items->get_array()) apply(s, fresh, pod, false);
      }
      const auto* meta = child_object(obj, "metadata");
      rv = std::string(child_string(meta, "resourceVersion"));
      continue_token = std::string(child_string(meta, "continue"));
      if (continue_token.empty()) break;
    }
    if (rv.empty()) {
      out.step = Step::failed;
      out.error = "PodList without a resourceVersion";
      co_return out;
    }
    s.resource_version = std::move(rv);
    s.pods = std::move(fresh);
    common::log(*log_, spdlog::level::debug, "listed pods",
                {{"job", options_.job_name},
                 {"namespace", s.namespace_name},
                 {"targets", std::to_string(s.pods.size())},
                 {"resource_version", s.resource_version}});
    co_return out;
  }

  asio::awaitable<StepResult> watch(PodStream& s) {
    StepResult out;
    const auto token = read_token(options_.bearer_token_file);
    if (!token) {
      out.step = Step::failed;
      out.error = token.error().message;
      co_return out;
    }
    // Spread the watches' ends like client-go does (timeout in [T, 2T)), so many daemons do not re-watch in step.
    const auto base = options_.watch_timeout.count();
    const auto timeout_s = base + static_cast<long long>(rng_() %
                                                         static_cast<unsigned long long>(std::max<long long>(base, 1)));
    const std::string target = pods_path(s) + "?watch=1&resourceVersion=" + url_encode(s.resource_version) +
                               "&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(timeout_s);
    const auto now = SteadyClock::now();
    const auto head_deadline = now + options_.request_timeout;
    const auto body_deadline = now + std::chrono::seconds(timeout_s + 30);

    auto on_line = [&](std::string_view line) -> bool {
      error_code ec;
      const auto v = json::parse(line, ec);
      const auto* event = v.if_object();
      if (ec || event == nullptr) {
        out.step = Step::failed;
        out.relist = true;
        out.error = "invalid watch event: " + (ec ? ec.message() : std::string("not an object"));
        return false;
      }
      const auto type = child_string(event, "type");
      const auto* object = event->if_contains("object");
      if (object == nullptr || !object->is_object()) {
        out.step = Step::failed;
        out.relist = true;
        out.error = "watch event without an object";
        return false;
      }
      if (type == "ERROR") {
        const auto& status = object->get_object();
        const auto* code = status.if_contains("code");
        if (code != nullptr && code->is_int64() && code->get_int64() == 410) {
          out.step = Step::gone;
          return false;
        }
        out.step = Step::failed;
        out.relist = true;
        out.error = "watch error event";
        if (code != nullptr && code->is_int64()) out.error += " " + std::to_string(code->get_int64());
        const auto message = child_string(&status, "message");
        if (!message.empty()) out.error += ": " + std::string(message.substr(0, 300));
        return false;
      }
      if (type == "ADDED" || type == "MODIFIED" || type == "DELETED") {
        if (apply(s, s.pods, *object, type == "DELETED")) mark_dirty();
      } else if (type != "BOOKMARK") {
        return true;  // unknown event types are skipped
      }
      out.progress = true;
      auto rv = resource_version(&object->get_object());
      if (!rv.empty()) s.resource_version = std::move(rv);
      return true;
    };
    auto r = co_await s.client->stream(target, *token, head_deadline, body_deadline, options_.max_line_bytes, on_line);
    if (stopping_) {
      out.step = Step::stopped;
      co_return out;
    }
    if (out.step != Step::ok) co_return out;  // decided by an event
    if (!r) {
      out.step = Step::failed;
      out.error = r.error().message;
      out.relist = r.error().code == common::Errc::too_large;  // resuming would meet the same event
      co_return out;
    }
    if (r->status == 410) {
      out.step = Step::gone;
      co_return out;
    }
    if (r->status != 200) {
      out.step = Step::failed;
      out.error = status_error(r->status, r->body);
    }
    co_return out;
  }

  // Schedules an update: at once if the last one is older than update_interval, else when it is.
  void mark_dirty() {
    if (flush_pending_ || stopping_) return;
    flush_pending_ = true;
    flush_timer_.expires_at(std::max(SteadyClock::now(), last_publish_ + options_.update_interval));
    flush_timer_.async_wait([self = shared_from_this()](error_code) {
      self->flush_pending_ = false;
      self->publish();
    });
  }

  void publish() {
    if (stopping_ || !update_) return;
    if (!std::all_of(streams_.begin(), streams_.end(), [](const auto& s) { return s->settled; })) return;
    std::vector<TargetGroup> groups;
    for (const auto& s : streams_) {
      for (const auto& [source, g] : s->pods) groups.push_back(g);
    }
    std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.source < b.source; });
    last_publish_ = SteadyClock::now();
    if (published_ && groups == last_groups_) return;
    published_ = true;
    last_groups_ = groups;
    update_(std::move(groups));
  }

  Strand strand_;
  KubernetesOptions options_;
  std::string prefix_;
  std::vector<std::unique_ptr<PodStream>> streams_;
  asio::steady_timer flush_timer_;
  std::shared_ptr<spdlog::logger> log_;
  std::minstd_rand rng_{std::random_device{}()};
  UpdateFn update_;
  std::vector<std::function<void()>> on_stopped_;
  std::vector<TargetGroup> last_groups_;
  SteadyClock::time_point last_publish_{};
  int running_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool flush_pending_ = false;
  bool published_ = false;
};

class KubernetesProvider final : public Provider {
 public:
  explicit KubernetesProvider(std::shared_ptr<KubernetesDiscoverer> impl) : impl_(std::move(impl)) {}
  ~KubernetesProvider() override { impl_->stop({}); }
  KubernetesProvider(const KubernetesProvider&) = delete;
  KubernetesProvider& operator=(const KubernetesProvider&) = delete;

  void start(UpdateFn update) override { impl_->start(std::move(update)); }
  void stop(std::function<void()> done) override { impl_->stop(std::move(done)); }

 private:
  std::shared_ptr<KubernetesDiscoverer> impl_;
};

}  // namespace

common::Result<std::unique_ptr<Provider>> make_kubernetes_provider(asio::io_context& io, KubernetesOptions options,
                                                                   std::shared_ptr<http::Resolver> resolver) {
  if (options.api_server.empty()) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
      return common::Error(
          "kubernetes_sd: api_server is not set and KUBERNETES_SERVICE_HOST/PORT are not (not in a cluster)");
    }
    const std::string h(host);
    options.api_server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
    if (options.bearer_token_file.empty()) options.bearer_token_file = std::string(kServiceAccountDir) + "token";
    if (options.ca_file.empty()) options.ca_file = std::string(kServiceAccountDir) + "ca.crt";
  }
  auto server = k8s::parse_api_server(options.api_server);
  if (!server) return common::Error("kubernetes_sd: " + server.error().message);
  if (options.page_size == 0 || options.max_line_bytes == 0 || options.update_interval.count() < 0 ||
      options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial ||
      options.request_timeout.count() <= 0 || options.watch_timeout.count() <= 0) {
    return common::Error("kubernetes_sd: invalid tuning options");
  }

  std::shared_ptr<http::TlsContext> tls;
  if (server->https) {
    auto made = http::make_client_tls({options.ca_file, options.cert_file, options.key_file});
    if (!made) return common::Error(made.error().code, "kubernetes_sd: " + made.error().message);
    tls = std::move(*made);
  }
  auto impl = std::make_shared<KubernetesDiscoverer>(io, std::move(options), *server, std::move(tls),
                                                     std::move(resolver));
  return std::unique_ptr<Provider>(std::make_unique<KubernetesProvider>(std::move(impl)));
}

}  // namespace leakwatch::discovery
