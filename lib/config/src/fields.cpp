#include "fields.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <optional>
#include <sstream>

namespace leakwatch::config::fields {

namespace {

// Finds where a second document starts, if there is one. yaml-cpp 0.7's YAML::LoadAll never returns on
// some malformed input (fuzz_config found it: the parser keeps reporting documents without consuming any,
// and memory grows until the process dies), so the documents are counted here with the parser itself and
// the count stops at two.
class SecondDocument final : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> first, start;
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ == 1) first = mark;
    if (documents_ == 2) start = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  int documents_ = 0;
};

struct Documents {
  std::optional<YAML::Mark> second;  // where a second document starts, if there is one
  bool stuck = false;                // the parser reported it at or before the first: the case above
};

Documents count_documents(const std::string& yaml) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  SecondDocument found;
  for (int i = 0; i < 2 && parser.HandleNextDocument(found); ++i) {
  }
  return {found.start, found.start && found.first && found.start->pos <= found.first->pos};
}

}  // namespace

void decode_document(std::string_view yaml, const std::string& file, std::vector<Diagnostic>& diagnostics,
                     const std::function<void(const YAML::Node&)>& decode) {
  try {
    const std::string text(yaml);
    const YAML::Node doc = YAML::Load(text);  // the first document; throws on a syntax error in it
    const Documents docs = count_documents(text);
    if (docs.stuck) {
      diagnostics.push_back({file, docs.second->line + 1, docs.second->column + 1,
                             "YAML syntax error: unexpected character (a ',' outside [...] or {...}?)"});
    } else {
      if (docs.second) {
        diagnostics.push_back({file, docs.second->line + 1, docs.second->column + 1,
                               "expected one YAML document, found more; remove the extra '---'"});
      }
      decode(doc);
    }
  } catch (const YAML::Exception& e) {
    const bool has_mark = !e.mark.is_null() && e.mark.line >= 0 && e.mark.column >= 0;
    diagnostics.push_back({file, has_mark ? e.mark.line + 1 : 0, has_mark ? e.mark.column + 1 : 0,
                           "YAML syntax error: " + printable(e.msg)});
  } catch (const std::exception& e) {
    diagnostics.push_back({file, 0, 0, "cannot read YAML: " + printable(e.what())});
  }
  // In file order, as a compiler prints them; errors without a position come first.
  std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
}

}  // namespace leakwatch::config::fields
