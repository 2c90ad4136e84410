// The JSON form of a Report, with Boost.JSON. Field names are the contract of `analyze --json`.

#include "escape.hpp"
#include "leakwatch/analyze/report.hpp"
#include "leakwatch/common/utf8.hpp"
#include "leakwatch/pprof/signature.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace leakwatch::analyze {
namespace {

namespace json = boost::json;

json::string text(std::string_view s) { return json::string(common::valid_utf8(s)); }

json::object frame_json(const pprof::Frame& f) {
  json::object o;
  o["function"] = text(f.function);
  o["file"] = text(f.file);
  o["line"] = f.line;
  return o;
}

json::object group_json(const pprof::StackGroup& g, bool has_waits) {
  json::object o;
  o["count"] = g.count;
  o["signature"] = pprof::signature_hex(g.signature);
  if (g.leak_site < g.frames.size()) {
    o["leak_site"] = frame_json(g.frames[g.leak_site]);
  } else {
    o["leak_site"] = nullptr;
  }
  o["wait_class"] = pprof::wait_class_name(g.wait_class);
  json::array frames;
  frames.reserve(g.frames.size());
  for (const auto& f : g.frames) frames.push_back(frame_json(f));
  o["frames"] = std::move(frames);
  if (g.creator) {
    o["creator"] = frame_json(*g.creator);
  } else {
    o["creator"] = nullptr;
  }
  json::object states;
  for (const auto& s : g.states) states[common::valid_utf8(s.state)] = s.count;
  o["states"] = std::move(states);
  if (has_waits) {
    o["max_wait_minutes"] = g.wait_minutes.max_minutes;
  } else {
    o["max_wait_minutes"] = nullptr;
  }
  json::object labels;
  // Two raw keys can become one after U+FFFD replacement; the first value wins.
  for (const auto& [k, v] : g.labels) labels.emplace(common::valid_utf8(k), text(v));
  o["labels"] = std::move(labels);
  return o;
}

}  // namespace

std::string render_json(const Report& report) {
  const auto& p = report.profile;
  json::object root;
  root["total"] = p.total;
  root["format"] = pprof::format_name(report.format);
  root["kind"] = pprof::profile_kind_name(p.kind);
  root["truncated"] = p.truncated();
  root["truncation_reason"] = text(p.truncation_reason);
  json::array groups;
  groups.reserve(p.groups.size());
  const bool has_waits = report.format == pprof::Format::debug2;
  for (const auto& g : p.groups) groups.push_back(group_json(g, has_waits));
  root["groups"] = std::move(groups);
  std::string out = json::serialize(root);
  out += '\n';
  return out;
}

}  // namespace leakwatch::analyze
