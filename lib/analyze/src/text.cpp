// The table `leakwatch analyze` prints by default.

#include "escape.hpp"
#include "leakwatch/analyze/report.hpp"
#include "leakwatch/pprof/signature.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace leakwatch::analyze {
namespace {

using detail::display_width;
using detail::for_terminal;

constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kReset = "\x1b[0m";
// Cells wider than this do not widen their column (the row just runs over), so one huge generic name
// does not push every other row to the right.
constexpr std::size_t kMaxColumn = 56;
constexpr std::string_view kGap = "  ";

// The wait class in the words Go's debug=2 states use.
std::string_view wait_class_text(pprof::WaitClass c) noexcept {
  switch (c) {
    case pprof::WaitClass::unknown: return "-";
    case pprof::WaitClass::chan_send: return "chan send";
    case pprof::WaitClass::chan_receive: return "chan receive";
    case pprof::WaitClass::select: return "select";
    case pprof::WaitClass::select_no_cases: return "select (no cases)";
    case pprof::WaitClass::sync: return "sync";
    case pprof::WaitClass::cond: return "sync.Cond.Wait";
    case pprof::WaitClass::io_wait: return "IO wait";
    case pprof::WaitClass::sleep: return "sleep";
    case pprof::WaitClass::syscall: return "syscall";
    case pprof::WaitClass::running: return "running";
  }
  return "-";
}

std::string states_text(const pprof::StackGroup& g) {
  if (g.states.empty()) return std::string(wait_class_text(g.wait_class));
  if (g.states.size() == 1) return for_terminal(g.states.front().state);
  std::string out;
  for (const auto& s : g.states) {
    if (!out.empty()) out += ", ";
    out += for_terminal(s.state) + " " + std::to_string(s.count);
  }
  return out;
}

// Go prints whole minutes, and nothing below one.
std::string wait_text(std::uint32_t minutes) {
  if (minutes == 0) return "<1m";
  if (minutes < 60) return std::to_string(minutes) + "m";
  // Appends rather than operator+ chains: GCC 12 -O3 reports a bogus -Wrestrict on those (bug 105651).
  const auto compose = [](std::uint32_t major, char major_unit, std::uint32_t minor, char minor_unit) {
    std::string out = std::to_string(major);
    out += major_unit;
    if (minor < 10) out += '0';
    out += std::to_string(minor);
    out += minor_unit;
    return out;
  };
  if (minutes < 24 * 60) return compose(minutes / 60, 'h', minutes % 60, 'm');
  return compose(minutes / (24 * 60), 'd', minutes / 60 % 24, 'h');
}

std::string location(const pprof::Frame& f) {
  if (f.file.empty() && f.line == 0) return "?";
  return for_terminal(f.file) + ":" + std::to_string(f.line);
}

// A label key or value, quoted when it would otherwise be ambiguous in "k=v k=v".
std::string label_text(std::string_view raw) {
  std::string s = for_terminal(raw);
  if (!s.empty() && s.find_first_of(" \"=,") == std::string::npos) return s;
  std::string quoted = "\"";
  for (const char c : s) {
    if (c == '"') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

void pad(std::string& out, std::size_t used, std::size_t width) {
  if (used < width) out.append(width - used, ' ');
}

struct Table {
  std::vector<std::vector<std::string>> rows;  // rows[0] is the column header
  std::vector<bool> right_aligned;

  std::vector<std::size_t> widths() const {
    std::vector<std::size_t> w(right_aligned.size(), 0);
    for (const auto& row : rows) {
      for (std::size_t c = 0; c < row.size(); ++c) {
        const std::size_t cell = display_width(row[c]);
        if (cell <= kMaxColumn || c == 0) w[c] = std::max(w[c], cell);
      }
    }
    return w;
  }

  std::string line(std::size_t r, const std::vector<std::size_t>& w) const {
    std::string out;
    const auto& row = rows[r];
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::size_t cell = display_width(row[c]);
      if (c > 0) out += kGap;
      if (right_aligned[c]) pad(out, cell, w[c]);
      out += row[c];
      if (!right_aligned[c] && c + 1 < row.size()) pad(out, cell, w[c]);
    }
    return out;
  }
};

void append_stack(std::string& out, const pprof::StackGroup& g, std::size_t indent, bool color) {
  const std::string margin(indent, ' ');
  std::vector<std::string> names;
  names.reserve(g.frames.size());
  std::size_t width = 0;
  for (const auto& f : g.frames) {
    names.push_back(for_terminal(f.function));
    const std::size_t n = display_width(names.back());
    if (n <= kMaxColumn) width = std::max(width, n);
  }
  std::string created;
  if (g.creator) {
    created = "created by " + for_terminal(g.creator->function);
    if (display_width(created) <= kMaxColumn + 2) width = std::max(width, display_width(created) - 2);
  }
  for (std::size_t i = 0; i < g.frames.size(); ++i) {
    const bool site = i == g.leak_site;
    out += margin;
    if (site && color) out += kBold;
    out += site ? "> " : "  ";
    out += names[i];
    pad(out, display_width(names[i]), width);
    out += kGap;
    out += location(g.frames[i]);
    if (site && color) out += kReset;
    out += '\n';
  }
  if (g.creator) {
    out += margin + created;
    pad(out, display_width(created), width + 2);
    out += kGap;
    out += location(*g.creator) + "\n";
  }
  if (!g.labels.empty()) {
    out += margin + "labels:";
    for (const auto& [k, v] : g.labels) {
      out += ' ';
      out += label_text(k);
      out += '=';
      out += label_text(v);
    }
    out += '\n';
  }
  out += '\n';
}

}  // namespace

std::string render_text(const Report& report, const TextOptions& options) {
  const auto& p = report.profile;
  std::string out;
  if (options.color) out += kBold;
  out += std::string(pprof::profile_kind_name(p.kind)) + " profile (" + std::string(pprof::format_name(report.format)) +
         "): " + std::to_string(p.total) + (p.total == 1 ? " goroutine" : " goroutines") + " in " +
         std::to_string(p.groups.size()) + (p.groups.size() == 1 ? " group" : " groups");
  if (options.color) out += kReset;
  out += '\n';
  if (p.truncated()) out += "truncated: " + for_terminal(p.truncation_reason) + "\n";
  if (p.groups.empty()) return out;

  const bool waits = report.format == pprof::Format::debug2;
  Table table;
  table.right_aligned = {true, false, false};
  std::vector<std::string> header = {"COUNT", "SIGNATURE", "STATE"};
  if (waits) {
    header.push_back("WAIT");
    table.right_aligned.push_back(true);
  }
  header.push_back("LEAK SITE");
  header.push_back("LOCATION");
  table.right_aligned.insert(table.right_aligned.end(), {false, false});
  table.rows.push_back(std::move(header));
  for (const auto& g : p.groups) {
    std::vector<std::string> row = {std::to_string(g.count), pprof::signature_hex(g.signature), states_text(g)};
    if (waits) row.push_back(wait_text(g.wait_minutes.max_minutes));
    if (g.leak_site < g.frames.size()) {
      row.push_back(for_terminal(g.frames[g.leak_site].function));
      row.push_back(location(g.frames[g.leak_site]));
    } else {
      row.push_back("(no frames)");  // debug=0 can hold a sample without locations
      row.push_back("-");
    }
    table.rows.push_back(std::move(row));
  }
  const auto widths = table.widths();
  if (options.stacks) out += '\n';
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const bool header_row = r == 0;
    if (header_row && options.color) out += kBold;
    out += table.line(r, widths);
    if (header_row && options.color) out += kReset;
    out += '\n';
    if (!header_row && options.stacks) append_stack(out, p.groups[r - 1], widths[0] + kGap.size(), options.color);
  }
  return out;
}

}  // namespace leakwatch::analyze
