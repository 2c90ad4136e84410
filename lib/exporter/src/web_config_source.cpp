#include "leakwatch/exporter/web_config_source.hpp"

#include "leakwatch/common/log.hpp"
#include "server_tls.hpp"

#include <boost/asio/ssl/context.hpp>

#include <sys/stat.h>

#include <variant>

namespace leakwatch::exporter {

namespace {

// What changes when a file is replaced or rewritten: device and inode (a rename over it, as Kubernetes'
// secret volumes do), size and modification time. A file that cannot be stat'ed has its own mark.
void append_stat(std::string& out, const std::string& path) {
  if (path.empty()) return;
  struct stat st {};
  out += path;
  if (::stat(path.c_str(), &st) != 0) {
    out += ":missing;";
    return;
  }
  out += ':' + std::to_string(st.st_dev) + ':' + std::to_string(st.st_ino) + ':' + std::to_string(st.st_size) + ':' +
         std::to_string(st.st_mtim.tv_sec) + '.' + std::to_string(st.st_mtim.tv_nsec) + ';';
}

}  // namespace

common::Result<std::shared_ptr<const WebSecurity>> load_web_security(const std::string& path) {
  auto loaded = config::load_web_config(path);
  if (auto* diags = std::get_if<std::vector<config::Diagnostic>>(&loaded)) {
    std::string message;
    for (const auto& d : *diags) {  // one per line
      if (!message.empty()) message += '\n';
      message += d.to_string();
    }
    return common::Error(common::Errc::invalid, message);
  }
  auto security = std::make_shared<WebSecurity>();
  security->config = std::get<std::shared_ptr<const config::WebConfig>>(std::move(loaded));
  if (security->config->tls.enabled()) {
    auto tls = make_server_tls(security->config->tls);
    if (!tls) return common::Error(common::Errc::invalid, path + ": tls_server_config: " + tls.error().message);
    security->tls = std::move(*tls);
  }
  return std::shared_ptr<const WebSecurity>(std::move(security));
}

WebConfigSource::WebConfigSource(std::string path, prometheus::Gauge& success)
    : path_(std::move(path)), success_(success) {}

common::Result<std::shared_ptr<WebConfigSource>> WebConfigSource::open(const std::string& path,
                                                                       prometheus::Registry& registry) {
  auto first = load_web_security(path);
  if (!first) return first.error();
  auto& success = prometheus::BuildGauge()
                      .Name("leakwatch_web_config_last_reload_successful")
                      .Help("Whether the last change of --web.config.file loaded (1) or was refused (0).")
                      .Register(registry)
                      .Add({});
  success.Set(1);
  auto source = std::make_shared<WebConfigSource>(path, success);
  source->current_ = std::move(*first);
  source->fingerprint_ = source->fingerprint();
  return source;
}

std::string WebConfigSource::fingerprint() const {
  std::string out;
  append_stat(out, path_);
  if (current_) {
    const auto& tls = current_->config->tls;
    append_stat(out, tls.cert_file);
    append_stat(out, tls.key_file);
    append_stat(out, tls.client_ca_file);
  }
  return out;
}

std::shared_ptr<const WebSecurity> WebConfigSource::current() {
  std::lock_guard lock(mutex_);
  std::string now = fingerprint();
  if (now == fingerprint_) return current_;
  fingerprint_ = std::move(now);
  auto log = common::logger("web");
  auto next = load_web_security(path_);
  if (!next) {
    success_.Set(0);
    common::log(*log, spdlog::level::warn, "web config refused; the last good one stays in force",
                {common::Field{"file", path_}, common::Field{"err", next.error().message}});
    return current_;
  }
  current_ = std::move(*next);
  fingerprint_ = fingerprint();  // the new config may name other files
  success_.Set(1);
  common::log(*log, spdlog::level::info, "web config loaded", {common::Field{"file", path_}});
  return current_;
}

}  // namespace leakwatch::exporter
