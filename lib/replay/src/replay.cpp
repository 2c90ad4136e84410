#include "leakwatch/replay/replay.hpp"

#include "leakwatch/common/file.hpp"
#include "leakwatch/config/load.hpp"
#include "leakwatch/detect/debug2_cadence.hpp"
#include "leakwatch/detect/process.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <ostream>
#include <sstream>
#include <system_error>

namespace leakwatch::replay {
namespace fs = std::filesystem;

namespace {

// "<digits><suffix>" -> the digits' value; nullopt for anything else.
std::optional<std::int64_t> time_of(const std::string& name, std::string_view suffix) {
  if (name.size() <= suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  const std::string_view digits(name.data(), name.size() - suffix.size());
  if (digits.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.front() == '-' || digits.front() == '+') {
    return std::nullopt;
  }
  return v;
}

void append_json_string(std::string& out, std::string_view s) { out += boost::json::serialize(boost::json::string(s)); }

// Shortest text that reads back as the same double; JSON has no NaN or infinity.
void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, ec == std::errc() ? ptr : buf);
}

}  // namespace

common::Result<std::vector<SavedProfile>> list_profiles(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return common::Error{dir.string() + ": not a directory"};
  std::vector<SavedProfile> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    if (const auto t = time_of(name, ".pb.gz")) {
      out.push_back({*t, it->path(), pprof::Format::debug0});
    } else if (const auto t2 = time_of(name, ".txt")) {
      out.push_back({*t2, it->path(), std::nullopt});
    }
  }
  if (ec) return common::Error{dir.string() + ": " + ec.message()};
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.t_ms < b.t_ms; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].t_ms == out[i - 1].t_ms) {
      return common::Error{"two profiles for time " + std::to_string(out[i].t_ms) + ": " +
                           out[i - 1].path.filename().string() + " and " + out[i].path.filename().string()};
    }
  }
  return out;
}

std::string event_json(const std::string& target, std::int64_t t_ms, const detect::Event& e) {
  std::string out = "{\"target\":";
  append_json_string(out, target);
  out += ",\"t_ms\":" + std::to_string(t_ms);
  out += ",\"scope\":";
  out += e.scope == detect::Scope::total ? "\"total\"" : "\"stack\"";
  out += ",\"function\":";
  if (e.scope == detect::Scope::stack) {
    append_json_string(out, e.function);
  } else {
    out += "null";
  }
  out += ",\"location\":";
  if (e.scope == detect::Scope::stack) {
    append_json_string(out, e.location);
  } else {
    out += "null";
  }
  out += ",\"state\":\"";
  out += detect::transition_name(e.state);
  out += "\",\"slope_per_min\":";
  append_number(out, e.slope_per_second * 60);
  out += ",\"p_value\":";
  append_number(out, e.p_value);
  out += '}';
  return out;
}

int run(const Options& options, std::ostream& out, std::ostream& err) {
  const auto fail = [&](const std::string& why) {
    err << "leakwatch replay: " << why << '\n';
    return 1;
  };
  detect::Options detection;
  detect::ProfileSettings profile;  // the job's kind and limits, as the daemon's loop uses them
  config::Debug2Config debug2;      // the job's, or the default
  std::string target = options.target;
  if (target.empty()) {
    target = fs::path(options.dir).lexically_normal().filename().string();
    if (target.empty()) target = fs::absolute(options.dir).lexically_normal().parent_path().filename().string();
  }
  if (!options.config_file.empty()) {
    const config::LoadResult loaded = config::load_file(options.config_file);
    if (const auto* diags = std::get_if<std::vector<config::Diagnostic>>(&loaded)) {
      std::ostringstream msg;
      msg << (diags->empty() ? std::string("invalid config") : diags->front().to_string());
      if (diags->size() > 1) msg << " (and " << diags->size() - 1 << " more)";
      return fail(msg.str());
    }
    const config::Config& c = *std::get<config::Loaded>(loaded).config;
    detection = c.global.detection;
    profile.limits.max_frames_per_stack = c.global.max_frames_per_stack;
    profile.limits.max_groups = c.global.max_stack_groups;
    profile.limits.max_decompressed_bytes = c.global.body_size_limit;
    // A job named like the target lends its own detection settings, as in the daemon.
    for (const auto& job : c.scrape_configs) {
      if (job.job_name == target) {
        detection = job.detection;
        debug2 = job.debug2;
        profile.kind = job.profile;
        profile.limits.max_decompressed_bytes = job.body_size_limit;
      }
    }
  }

  auto files = list_profiles(options.dir);
  if (!files) return fail(files.error().message);

  detect::TargetDetector detector(detection);
  // A saved debug=2 counts as debug=2 only where the daemon would have asked for one (its cadence, from
  // the first profile's time); elsewhere it is read as the debug=1 it contains. A recording's debug=2 files
  // are as often as it was made with, so an on-demand one comes at the next that was saved.
  std::optional<detect::Debug2Cadence> cadence;
  std::uint64_t last_goroutines = 0;
  for (const SavedProfile& f : *files) {
    const std::string name = f.path.filename().string();
    auto bytes = common::read_file(f.path.string(), profile.limits.max_decompressed_bytes);
    if (!bytes) {
      err << "leakwatch replay: skipping " << name << ": " << bytes.error().message << '\n';
      continue;
    }
    detect::ProfileSettings settings = profile;
    settings.format = f.format;  // .pb.gz is debug=0; .txt is told from the bytes
    const double t = static_cast<double>(f.t_ms) / 1000.0;
    if (!cadence)
      cadence.emplace(detect::Debug2Cadence::Settings{debug2.interval, debug2.min_interval, debug2.max_goroutines}, t);
    const auto format = settings.format ? settings.format : pprof::detect_format(*bytes);
    if (format == pprof::Format::debug2) {
      settings.wait_evidence = cadence->due(t, last_goroutines, detector.wants_wait_evidence());
      if (settings.wait_evidence) cadence->taken(t);
    }
    auto processed = detect::process_profile(*bytes, settings, detector, t);
    if (!processed) {
      err << "leakwatch replay: skipping " << name << ": " << processed.error().message << '\n';
      continue;
    }
    last_goroutines = processed->goroutines;
    for (const detect::Event& e : processed->events) out << event_json(target, f.t_ms, e) << '\n';
  }
  out.flush();
  return 0;
}

}  // namespace leakwatch::replay
