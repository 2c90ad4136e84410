#include "leakwatch/common/log.hpp"

#include "leakwatch/common/utf8.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <mutex>

namespace leakwatch::common {
namespace {

std::atomic<LogFormat> g_format{LogFormat::logfmt};
std::atomic<spdlog::level::level_enum> g_level{spdlog::level::info};
std::mutex g_mutex;

std::shared_ptr<spdlog::sinks::sink> sink() {
  // One shared, thread-safe sink so lines from different components never interleave.
  static auto s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return s;
}

std::string pattern(LogFormat f) {
  return f == LogFormat::json ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%*","component":"%n",%v})"
                              : "ts=%Y-%m-%dT%H:%M:%S.%eZ level=%* component=%n %v";
}

// Level names as the flags spell them (and as Go's logfmt loggers print them): "warn", not spdlog's "warning".
class LevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string_view name;
    switch (msg.level) {
      case spdlog::level::trace: name = "trace"; break;
      case spdlog::level::debug: name = "debug"; break;
      case spdlog::level::info: name = "info"; break;
      case spdlog::level::warn: name = "warn"; break;
      case spdlog::level::err: name = "error"; break;
      case spdlog::level::critical: name = "critical"; break;
      default: name = "off"; break;
    }
    dest.append(name.data(), name.data() + name.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelFlag>(); }
};

bool logfmt_bare(std::string_view v) {
  if (v.empty()) return false;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return false;
  }
  return true;
}

// Escapes for both logfmt quoted values and JSON strings (the same rules cover both). Text from a target
// may hold bytes that are not UTF-8: they become U+FFFD, so every line is valid UTF-8 and valid JSON.
void append_quoted(std::string& out, std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string cleaned;
  std::string_view v = raw;
  if (!is_valid_utf8(raw)) {
    cleaned = valid_utf8(raw);
    v = cleaned;
  }
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view text) {
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "logfmt") return LogFormat::logfmt;
  if (text == "json") return LogFormat::json;
  return std::nullopt;
}

void setup_logging(spdlog::level::level_enum level, LogFormat format) {
  std::lock_guard lock(g_mutex);
  g_format = format;
  g_level = level;
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<LevelFlag>('*').set_pattern(pattern(format));
  sink()->set_formatter(std::move(formatter));
  spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
}

std::shared_ptr<spdlog::logger> logger(const std::string& component) {
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(component)) return existing;
  auto l = std::make_shared<spdlog::logger>(component, sink());
  l->set_level(g_level.load());
  spdlog::register_logger(l);
  return l;
}

std::string render_fields(std::string_view msg, std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(64 + msg.size());
  if (g_format.load(std::memory_order_relaxed) == LogFormat::json) {
    out += "\"msg\":";
    append_quoted(out, msg);
    for (const auto& [k, v] : fields) {
      out += ',';
      append_quoted(out, k);
      out += ':';
      append_quoted(out, v);
    }
  } else {
    out += "msg=";
    append_quoted(out, msg);
    for (const auto& [k, v] : fields) {
      out += ' ';
      out += k;
      out += '=';
      if (logfmt_bare(v)) {
        out += v;
      } else {
        append_quoted(out, v);
      }
    }
  }
  return out;
}

}  // namespace leakwatch::common
