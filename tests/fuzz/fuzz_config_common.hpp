#pragma once
// Shared by the config fuzz targets (fuzz_config.cpp, fuzz_web_config.cpp): the invariants every config
// load must keep on hostile bytes, whether it loads or not.

#include "leakwatch/config/load.hpp"

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace leakwatch::fuzz {

[[noreturn]] inline void violated(const char* what, std::string_view detail) {
  std::fprintf(stderr, "invariant violated: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// A refused file has at least one diagnostic, each naming the file, with a message, a sane position, and no
// raw control character: diagnostics go to the log and the terminal, and a hostile file must not be able to
// forge lines there.
inline void check_diagnostics(const std::vector<config::Diagnostic>& ds, std::string_view file) {
  if (ds.empty()) violated("a refused config has no diagnostic", "");
  for (const config::Diagnostic& d : ds) {
    if (d.file != file) violated("diagnostic names another file", d.file);
    if (d.message.empty()) violated("empty diagnostic", "");
    if (d.line < 0 || d.column < 0 || (d.line == 0) != (d.column == 0)) violated("bad position", d.message);
    for (char c : d.message) {
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') violated("control character in a diagnostic", d.message);
    }
  }
}

}  // namespace leakwatch::fuzz
