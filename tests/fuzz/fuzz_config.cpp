// libFuzzer target: config::load_string (leakwatch's main config, as --config.file and POST /-/reload read
// it) and config::load_target_groups (a file_sd file) on arbitrary bytes. Either loads or is refused with
// well-formed diagnostics; never crashes, leaks or hangs.
// Seeds: tests/testdata/config/*.yml; dictionary: tests/fuzz/config.dict (see scripts/fuzz.sh).

#include "fuzz_config_common.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace config = leakwatch::config;
  const std::string_view bytes{reinterpret_cast<const char*>(data), size};
  const std::string file = "fuzz.yml";
  const config::LoadResult r = config::load_string(bytes, file);
  if (const auto* ds = std::get_if<std::vector<config::Diagnostic>>(&r)) {
    leakwatch::fuzz::check_diagnostics(*ds, file);
  } else {
    const config::Loaded& loaded = std::get<config::Loaded>(r);
    if (!loaded.config) leakwatch::fuzz::violated("loaded without a config", "");
    if (loaded.sha256.size() != 64) leakwatch::fuzz::violated("digest is not sha256 hex", loaded.sha256);
    for (const config::ScrapeConfig& job : loaded.config->scrape_configs) {
      if (job.job_name.empty()) leakwatch::fuzz::violated("a job without a name loaded", "");
    }
  }
  const config::TargetFileResult t = config::load_target_groups(bytes, file);
  if (const auto* ds = std::get_if<std::vector<config::Diagnostic>>(&t)) leakwatch::fuzz::check_diagnostics(*ds, file);
  return 0;
}
