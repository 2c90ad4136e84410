#include "leakwatch/config/load.hpp"

namespace leakwatch::config {

std::string Diagnostic::to_string() const {
  std::string out = file;
  if (line > 0) {
    if (!out.empty()) out += ':';
    out += std::to_string(line) + ':' + std::to_string(column);
  }
  if (!out.empty()) out += ": ";
  out += message;
  return out;
}

}  // namespace leakwatch::config
