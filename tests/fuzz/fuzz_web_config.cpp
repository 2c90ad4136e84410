// libFuzzer target: config::load_web_config_string (--web.config.file, exporter-toolkit's format) on arbitrary
// bytes. Either loads a config that keeps the loader's promises or is refused with well-formed diagnostics.
// Seeds: tests/testdata/web/*.yml; dictionary: tests/fuzz/web_config.dict (see scripts/fuzz.sh).

#include "fuzz_config_common.hpp"
#include "leakwatch/config/web_config.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace config = leakwatch::config;
  using leakwatch::fuzz::violated;
  const std::string_view bytes{reinterpret_cast<const char*>(data), size};
  const std::string file = "web.yml";
  const config::WebConfigResult r = config::load_web_config_string(bytes, file);
  if (const auto* ds = std::get_if<std::vector<config::Diagnostic>>(&r)) {
    leakwatch::fuzz::check_diagnostics(*ds, file);
    return 0;
  }
  const config::WebConfig& c = *std::get<std::shared_ptr<const config::WebConfig>>(r);
  for (const auto& [user, hash] : c.basic_auth_users) {
    if (!config::is_bcrypt_hash(hash)) violated("a user loaded without a bcrypt hash", user);
    if (user.empty() || user.find(':') != std::string::npos) violated("a user name basic auth cannot send", user);
  }
  for (const auto& [name, value] : c.headers) {
    for (char ch : value) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f)
        violated("a header value could split the response", name);
    }
  }
  const config::WebTlsConfig& tls = c.tls;
  if (tls.enabled()) {
    if ((tls.cert.empty() && tls.cert_file.empty()) || (tls.key.empty() && tls.key_file.empty())) {
      violated("TLS enabled without a certificate and key", "");
    }
    if (static_cast<int>(tls.min_version) > static_cast<int>(tls.max_version))
      violated("min_version > max_version", "");
  }
  if (c.rate_limit_interval.count() > 0 && c.rate_limit_burst < 1) violated("a rate limit that refuses all", "");
  return 0;
}
