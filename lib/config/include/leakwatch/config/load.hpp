#pragma once
// Reading a config file: YAML (yaml-cpp is used here and nowhere else) into the schema, with unknown keys
// rejected and every problem reported with its file, line and column.

#include "leakwatch/config/config.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace leakwatch::config {

struct Diagnostic {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem has no position (e.g. the file cannot be read)
  int column = 0;  // 1-based
  std::string message;

  // "file:line:column: message" (or "file: message" without a position), as compilers print them.
  std::string to_string() const;
};

struct Loaded {
  std::shared_ptr<const Config> config;
  std::string sha256;  // of the file's bytes, so an unchanged file can be recognised on reload
};

using LoadResult = std::variant<Loaded, std::vector<Diagnostic>>;

// Parses and validates YAML text; `file` only names it in diagnostics. Collects every problem it can
// find rather than stopping at the first.
LoadResult load_string(std::string_view yaml, const std::string& file);

// Reads the file, then load_string(). Relative paths in the config (ca_file, file_sd files,
// bearer_token_file) are resolved against the file's directory.
LoadResult load_file(const std::string& path);

// A file_sd file: JSON or YAML (JSON is read as YAML, so positions are reported the same way), holding a list
// of {targets: [...], labels: {...}} groups exactly like Prometheus' file_sd. Targets and labels get the
// checks static_configs get; a target listed twice in one file is an error. An empty file is no groups.
using TargetFileResult = std::variant<std::vector<StaticConfig>, std::vector<Diagnostic>>;
TargetFileResult load_target_groups(std::string_view text, const std::string& file);

}  // namespace leakwatch::config
