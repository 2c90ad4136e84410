#pragma once
// The web config in force for leakwatch's own port (--web.config.file), re-read when it changes. As in
// exporter-toolkit, each new connection and each request asks for it, so a new password hash or a renewed
// certificate applies without a restart. Unlike exporter-toolkit, a change that does not load (a YAML
// mistake, a key that does not match its certificate) is refused: the last good config stays in force, the
// refusal is logged once with its reasons, and leakwatch_web_config_last_reload_successful says so.

#include "leakwatch/common/error.hpp"
#include "leakwatch/config/web_config.hpp"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace leakwatch::exporter {

// One loaded web config with its TLS context (null: plain HTTP).
struct WebSecurity {
  std::shared_ptr<const config::WebConfig> config;
  std::shared_ptr<boost::asio::ssl::context> tls;
};

class WebConfigSource {
 public:
  // Loads the file and builds its TLS context; the error lists every problem (file:line:column) when it
  // does not load. Registers leakwatch_web_config_last_reload_successful on `registry`.
  static common::Result<std::shared_ptr<WebConfigSource>> open(const std::string& path, prometheus::Registry& registry);

  // The config in force, first re-read when the file or a certificate, key or CA file it names changed
  // (size, modification time or inode) since the last look. Thread-safe.
  std::shared_ptr<const WebSecurity> current();

  WebConfigSource(std::string path, prometheus::Gauge& success);

 private:
  std::string fingerprint() const;

  std::mutex mutex_;
  const std::string path_;
  prometheus::Gauge& success_;
  std::shared_ptr<const WebSecurity> current_;
  std::string fingerprint_;  // of the files when last looked at, whether that load succeeded or not
};

// Loads a web config file and builds its TLS context, without a source: `leakwatch check-config` and the
// first load use it.
common::Result<std::shared_ptr<const WebSecurity>> load_web_security(const std::string& path);

}  // namespace leakwatch::exporter
