#include "fields.hpp"

namespace leakwatch::config::fields {

void decode_document(std::string_view yaml, const std::string& file, std::vector<Diagnostic>& diagnostics,
                     const std::function<void(const YAML::Node&)>& decode) {
  try {
    const std::vector<YAML::Node> docs = YAML::LoadAll(std::string(yaml));
    if (docs.size() > 1) {
      const Position p = position_of(docs[1]);
      diagnostics.push_back({file, p.line, p.column,
                             "expected one YAML document, found " + std::to_string(docs.size()) +
                                 "; remove the extra '---'"});
    }
    if (!docs.empty()) decode(docs.front());
  } catch (const YAML::Exception& e) {
    const bool has_mark = !e.mark.is_null() && e.mark.line >= 0 && e.mark.column >= 0;
    diagnostics.push_back({file, has_mark ? e.mark.line + 1 : 0, has_mark ? e.mark.column + 1 : 0,
                           "YAML syntax error: " + e.msg});
  } catch (const std::exception& e) {
    diagnostics.push_back({file, 0, 0, std::string("cannot read YAML: ") + e.what()});
  }
  // In file order, as a compiler prints them; errors without a position come first.
  std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
}

}  // namespace leakwatch::config::fields
