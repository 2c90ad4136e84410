// Parser for debug=1 goroutine profiles (grammar: docs/goroutine-profiles.md §2, runtime/pprof
// printCountProfile / printStackRecord):
//
//   NAME " profile: total " N LF                        NAME = goroutine | goroutineleak
//   { COUNT " @" { " 0x" HEX } LF
//     [ "# labels: {" QSTR ":" QSTR { ", " QSTR ":" QSTR } "}" LF ]
//     { "#" TABS "0x" HEX TABS FUNC "+0x" HEX TABS FILE ":" LINE LF  |  "#" TABS "0x" HEX LF }
//     LF }
//
// One pass over string_views into the body: the only copies are the distinct names the Profile keeps
// (interned in its StringPool). The input is untrusted (any HTTP endpoint can answer), so every line is
// bounded before it is scanned, numbers are range-checked before they can overflow, and failures are
// Errors naming the line.
//
// Decisions (the header documents the contract, these are the whys):
// - Frames without a symbol ("#\t0xPC") are kept as Frame{kUnknownFunction, "", 0}: dropping them
//   would merge stacks that differ only there and shorten the depth the signature relies on.
// - A stack deeper than max_frames_per_stack keeps its leaf-most frames (the leak site is near the
//   leaf) and the profile notes it in truncation_reason; the group and its count stay.
// - max_groups stops the parse: the groups read so far are returned with a truncation_reason.
// - total is always the header's N, the runtime's own count. When the whole body was read and the
//   groups sum to something else, the profile is flagged via truncation_reason rather than rejected:
//   the groups themselves are still right.
// - A body cut mid-group keeps every complete group and drops the partial one. A last group whose
//   lines all end in '\n' but which lacks the closing blank line counts as complete when its count
//   completes the header's total (see the end of parse_debug1); a partial last line (no '\n') is never
//   trusted, it may be a cut number.

#include "leakwatch/pprof/parser.hpp"
#include "text.hpp"

#include "leakwatch/common/hash.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace leakwatch::pprof {
namespace {

using common::Error;
using namespace text;  // text.hpp: LineReader, byte tests, escapes, error messages

Error expected_error(const Line& line, std::string_view what) {
  return text::expected_error(line.number, line.text, what);
}

// Far above any real goroutine count (the runtime tops out around 10^8), far below overflow: even
// max_groups groups of this size sum without wrapping.
constexpr std::uint64_t kMaxCount = std::uint64_t{1} << 40;

constexpr std::string_view kGoroutineHeader = "goroutine profile: total ";
constexpr std::string_view kLeakHeader = "goroutineleak profile: total ";
constexpr std::string_view kLabelsPrefix = "# labels: {";

enum class NumberStatus { ok, missing, too_large };

// Decimal digits up to `max`, checked digit by digit so it can never overflow.
NumberStatus take_number(std::string_view& s, std::uint64_t max, std::uint64_t& out) noexcept {
  if (s.empty() || !is_digit(s.front())) {
    return NumberStatus::missing;
  }
  std::uint64_t value = 0;
  std::size_t n = 0;
  for (; n < s.size() && is_digit(s[n]); ++n) {
    value = value * 10 + static_cast<std::uint64_t>(s[n] - '0');
    if (value > max) {
      return NumberStatus::too_large;
    }
  }
  s.remove_prefix(n);
  out = value;
  return NumberStatus::ok;
}

// `s` is the text between "# labels: {" and the closing '}'.
const char* parse_labels(std::string_view s, Labels& labels) {
  std::string key;
  std::string value;
  while (!s.empty()) {
    if (const char* why = take_quoted(s, key)) {
      return why;
    }
    if (!consume(s, ":")) {
      return "expected ':' after a label key";
    }
    if (const char* why = take_quoted(s, value)) {
      return why;
    }
    labels.emplace_back(std::move(key), std::move(value));
    if (s.empty()) {
      break;
    }
    // Go joins the pairs with ", "; accept any number of spaces after the comma.
    if (!consume(s, ",")) {
      return "expected ',' between labels";
    }
    while (consume(s, " ")) {
    }
    if (s.empty()) {
      return "trailing ',' in labels";
    }
  }
  // Go sorts the quoted "k":"v" strings, which is not always the order of the raw keys; the model
  // promises key order, the same for every format.
  if (!std::is_sorted(labels.begin(), labels.end())) {
    std::sort(labels.begin(), labels.end());
  }
  return nullptr;
}

constexpr std::string_view kFrameSyntax = "'#\\t0x<pc>\\t<function>+0x<offset>\\t<file>:<line>' or '#\\t0x<pc>'";

struct FrameView {
  std::string_view function;  // kUnknownFunction when the runtime could not symbolize the PC
  std::string_view file;
  std::uint32_t line = 0;
};

// Splits one "#\t0xPC\tFUNC+0xOFF\tFILE:LINE" or "#\t0xPC" line (leading '#' already checked) into
// the PC and the text after its TABs (empty for an unsymbolized PC); false if the line is neither
// form's start. Frame lines are nearly all of a profile, so this and parse_symbolized are plain byte
// tests and memchr, inlined, with the error built by the caller.
inline bool split_frame(std::string_view text, std::uint64_t& pc, std::string_view& rest) noexcept {
  const char* p = text.data() + 1;
  const char* const end = text.data() + text.size();
  const char* const tabs = p;
  while (p != end && *p == '\t') {
    ++p;
  }
  // TABS "0x" HEX
  if (p == tabs || end - p < 3 || p[0] != '0' || p[1] != 'x' || !is_hex(p[2])) {
    return false;
  }
  p += 2;
  // Wraps past 16 digits, harmlessly: the PC is only FrameCache's key.
  std::uint64_t value = 0;
  for (int digit; p != end && (digit = hex_digit(*p)) >= 0; ++p) {
    value = value * 16 + static_cast<std::uint64_t>(digit);
  }
  pc = value;
  if (p == end) {
    rest = {};
    return true;
  }
  const char* const after = p;
  while (p != end && *p == '\t') {
    ++p;
  }
  if (p == after) {
    return false;
  }
  rest = std::string_view(p, static_cast<std::size_t>(end - p));
  return true;
}

// Parses FUNC "+0x" OFF TABS FILE ":" LINE (the text split_frame leaves after the PC); false if it is
// not that.
inline bool parse_symbolized(std::string_view rest, FrameView& frame) noexcept {
  const char* p = rest.data();
  const char* const end = rest.data() + rest.size();
  // FUNC has no TABs (it may have spaces: "type..eq.struct { a int }"); FILE is the rest of the line
  // and may hold spaces, colons and even TABs, so it is split from the right only.
  const void* tab = std::memchr(p, '\t', rest.size());
  if (tab == nullptr) {
    return false;
  }
  std::string_view function(p, static_cast<std::size_t>(static_cast<const char*>(tab) - p));
  p = static_cast<const char*>(tab);
  while (p != end && *p == '\t') {
    ++p;
  }
  // "+0xOFF" is stripped when it is there (the last "+0x", followed by hex digits only, not at the
  // start); a name without it is kept whole rather than rejected. Found from the right: the hex digits,
  // then "+0x" before them ('x' and '+' are not hex, so this is the last "+0x").
  {
    std::size_t digits = function.size();
    while (digits > 0 && is_hex(function[digits - 1])) {
      --digits;
    }
    if (digits < function.size() && digits > 3 && function[digits - 1] == 'x' && function[digits - 2] == '0' &&
        function[digits - 3] == '+') {
      function = function.substr(0, digits - 3);
    }
  }
  // FILE ":" LINE, from the right: digits after the last ':', which follows a non-empty file.
  const char* colon = end;
  while (colon != p && is_digit(colon[-1])) {
    --colon;
  }
  if (function.empty() || colon == end || colon - p < 2 || colon[-1] != ':') {
    return false;
  }
  // Checked digit by digit, so that no count of (leading zero) digits can overflow.
  std::uint64_t number = 0;
  for (const char* d = colon; d != end; ++d) {
    number = number * 10 + static_cast<std::uint64_t>(*d - '0');
    if (number > std::numeric_limits<std::uint32_t>::max()) {
      return false;
    }
  }
  frame = FrameView{function, std::string_view(p, static_cast<std::size_t>(colon - 1 - p)),
                    static_cast<std::uint32_t>(number)};
  return true;
}

// Frame lines repeat: every goroutine of a server passes through the same handlers, and one PC prints
// as the same line in every group that holds it. This maps a line's PC to the text after it and the
// Frame already interned for it, so a repeated line costs one integer probe and one memcmp instead of
// a parse and two string hashes. The PC is only a hint: a hit needs the text to match byte for byte,
// so a body that reuses a PC for different lines is still read exactly. Entries are bounded by the
// distinct PCs, and so by the body's size. PCs come from the body: the slot hash is seeded per parse and
// probing stops after kMaxProbes, so PCs chosen to collide cost a cache miss, never quadratic time.
class FrameCache {
 public:
  const Frame* find(std::uint64_t pc, std::string_view rest) const noexcept {
    if (entries_.empty()) {
      return nullptr;
    }
    const std::size_t mask = entries_.size() - 1;
    std::size_t i = slot_of(pc, mask);
    for (std::size_t probes = 0; probes < kMaxProbes; ++probes, i = (i + 1) & mask) {
      const Entry& e = entries_[i];
      if (e.text == nullptr) {
        return nullptr;
      }
      if (e.pc == pc) {
        return e.size == rest.size() && std::memcmp(e.text, rest.data(), rest.size()) == 0 ? &e.frame : nullptr;
      }
    }
    return nullptr;
  }

  // `rest` views the body, which outlives the parse and so the cache.
  void insert(std::uint64_t pc, std::string_view rest, const Frame& frame) {
    if (2 * (count_ + 1) > entries_.size()) {
      grow();
    }
    const std::size_t mask = entries_.size() - 1;
    std::size_t i = slot_of(pc, mask);
    for (std::size_t probes = 0; entries_[i].text != nullptr && entries_[i].pc != pc; i = (i + 1) & mask) {
      if (++probes == kMaxProbes) {
        return;  // not cached; the line is parsed again next time
      }
    }
    if (entries_[i].text == nullptr) {
      ++count_;
    }
    // A PC seen with other text before: the newer line replaces it (bodies that do this are not Go's).
    entries_[i] = Entry{pc, rest.data(), rest.size(), frame};
  }

 private:
  struct Entry {
    std::uint64_t pc = 0;
    const char* text = nullptr;  // nullptr: empty slot
    std::size_t size = 0;
    Frame frame;
  };

  static constexpr std::size_t kMaxProbes = 32;

  std::size_t slot_of(std::uint64_t pc, std::size_t mask) const noexcept {
    return static_cast<std::size_t>(common::mix64(pc ^ seed_)) & mask;
  }

  void grow() {
    std::vector<Entry> old = std::exchange(entries_, std::vector<Entry>(entries_.empty() ? 256 : entries_.size() * 2));
    const std::size_t mask = entries_.size() - 1;
    for (const Entry& e : old) {
      if (e.text == nullptr) continue;
      std::size_t i = slot_of(e.pc, mask);
      std::size_t probes = 0;
      while (entries_[i].text != nullptr && probes < kMaxProbes) {
        i = (i + 1) & mask;
        ++probes;
      }
      if (probes == kMaxProbes) {
        --count_;  // dropped: a cache, not a record
        continue;
      }
      entries_[i] = e;
    }
  }

  std::vector<Entry> entries_;
  std::size_t count_ = 0;
  // An address ASLR randomizes: a body cannot aim its PCs at one slot without knowing it.
  const std::uint64_t seed_ = common::mix64(reinterpret_cast<std::uintptr_t>(this));
};

}  // namespace

common::Result<Profile> parse_debug1(std::string_view bytes, const Limits& limits) {
  Profile profile;
  auto strings = std::make_shared<StringPool>();
  FrameCache frames;
  LineReader reader(bytes, limits.max_line_bytes);
  Line line;

  const auto too_long = [&] {
    return line_error(reader.number(), "longer than max_line_bytes (" + std::to_string(limits.max_line_bytes) + ")");
  };

  // Header.
  switch (reader.next(line)) {
    case LineReader::Status::end: return line_error(1, "empty body, expected 'goroutine profile: total <N>'");
    case LineReader::Status::too_long: return too_long();
    case LineReader::Status::line: break;
  }
  {
    std::string_view s = line.text;
    if (consume(s, kGoroutineHeader)) {
      profile.kind = ProfileKind::goroutine;
    } else if (consume(s, kLeakHeader)) {
      profile.kind = ProfileKind::goroutineleak;
    } else {
      return expected_error(line, "'goroutine profile: total <N>' or 'goroutineleak profile: total <N>'");
    }
    if (!line.terminated) {
      // "total 3" might be the start of "total 35".
      return line_error(line.number, "body ends inside the header");
    }
    switch (take_number(s, kMaxCount, profile.total)) {
      case NumberStatus::ok:
        if (s.empty()) {
          break;
        }
        [[fallthrough]];
      case NumberStatus::missing: return expected_error(line, "'goroutine profile: total <N>'");
      case NumberStatus::too_large: return line_error(line.number, "total exceeds 2^40");
    }
  }

  std::optional<StackGroup> open;  // the group being read
  std::size_t open_line = 0;       // where it started
  bool open_has_labels = false;
  std::uint64_t sum = 0;
  bool cut = false;  // the body (or max_groups) ended the parse early
  bool frames_capped = false;

  const auto close_group = [&] {
    sum += open->count;
    // The reserve below trusts the '@' line; a hostile one listing many PCs but few frame lines must not
    // make memory outgrow the input.
    if (open->frames.capacity() > 2 * open->frames.size() + 8) {
      open->frames.shrink_to_fit();
    }
    profile.groups.push_back(std::move(*open));
    open.reset();
  };

  while (true) {
    const auto status = reader.next(line);
    if (status == LineReader::Status::end) {
      break;
    }
    if (status == LineReader::Status::too_long) {
      return too_long();
    }
    if (!line.terminated) {
      if (line.text.empty()) {
        break;  // only a "\r" (or blanks) after the last '\n': nothing was cut
      }
      cut = true;
      add_reason(profile.truncation_reason,
                 "body ends inside the stack group starting at line " + std::to_string(open ? open_line : line.number));
      open.reset();
      break;
    }

    if (!open) {
      if (line.text.empty()) {
        continue;  // Go writes exactly one blank line per group; tolerate more
      }
      if (profile.groups.size() >= limits.max_groups) {
        cut = true;
        add_reason(profile.truncation_reason, "stopped at max_groups (" + std::to_string(limits.max_groups) +
                                                  "): the stack group at line " + std::to_string(line.number) +
                                                  " and any after it were not read");
        break;
      }
      constexpr std::string_view kGroupSyntax = "'<count> @ <addresses>'";
      std::string_view s = line.text;
      std::uint64_t count = 0;
      switch (take_number(s, kMaxCount, count)) {
        case NumberStatus::ok: break;
        case NumberStatus::missing: return expected_error(line, kGroupSyntax);
        case NumberStatus::too_large: return line_error(line.number, "count exceeds 2^40");
      }
      if (!consume(s, " @")) {
        return expected_error(line, kGroupSyntax);
      }
      // " 0x" HEX per PC, up to 128 of them: byte tests, no calls.
      std::size_t pcs = 0;
      for (std::size_t i = 0; i < s.size(); ++pcs) {
        if (s.size() - i < 4 || s[i] != ' ' || s[i + 1] != '0' || s[i + 2] != 'x' || !is_hex(s[i + 3])) {
          return expected_error(line, kGroupSyntax);
        }
        i += 4;
        while (i < s.size() && is_hex(s[i])) {
          ++i;
        }
      }
      open.emplace();
      open->count = count;
      // Roughly one '#' line per PC (hidden runtime frames and inlined ones about cancel out).
      open->frames.reserve(std::min(pcs, limits.max_frames_per_stack));
      open_line = line.number;
      open_has_labels = false;
      continue;
    }

    if (line.text.empty()) {
      close_group();
      continue;
    }
    // Frame lines ("#\t0x...") first: they are nearly every line, and cannot be a labels line.
    const bool frame_line = line.text.size() >= 2 && line.text[0] == '#' && line.text[1] == '\t';
    if (!frame_line && line.text.starts_with(kLabelsPrefix)) {
      if (open_has_labels || !open->frames.empty()) {
        return line_error(line.number, "labels line after the labels or frames of its group");
      }
      std::string_view s = line.text.substr(kLabelsPrefix.size());
      if (!s.ends_with('}')) {
        return expected_error(line, "'# labels: {\"key\":\"value\", ...}'");
      }
      s.remove_suffix(1);
      if (const char* why = parse_labels(s, open->labels)) {
        return line_error(line.number, std::string{"bad labels: "} + why);
      }
      open_has_labels = true;
      continue;
    }
    if (line.text.front() != '#') {
      return expected_error(line, "a '#' frame line or the blank line that ends the stack group starting at line " +
                                      std::to_string(open_line));
    }
    std::uint64_t pc = 0;
    std::string_view rest;
    if (!split_frame(line.text, pc, rest)) {
      return expected_error(line, kFrameSyntax);
    }
    Frame frame;
    if (rest.empty()) {
      frame = Frame{kUnknownFunction, {}, 0};
    } else if (const Frame* known = frames.find(pc, rest)) {
      frame = *known;
    } else {
      FrameView view;
      if (!parse_symbolized(rest, view)) {
        return expected_error(line, kFrameSyntax);
      }
      frame = Frame{strings->intern(view.function), strings->intern(view.file), view.line};
      frames.insert(pc, rest, frame);
    }
    if (open->frames.size() >= limits.max_frames_per_stack) {
      if (!frames_capped) {
        frames_capped = true;
        add_reason(profile.truncation_reason,
                   "the stack group at line " + std::to_string(open_line) + " has more than max_frames_per_stack (" +
                       std::to_string(limits.max_frames_per_stack) + ") frames; kept the leaf-most ones");
      }
      continue;  // the line was still validated: a capped stack must not hide a malformed body
    }
    open->frames.push_back(frame);
  }

  if (open) {
    // Go always ends the body with the blank line closing the last group, so a body without it was
    // either cut or had trailing newlines stripped on the way. The counts tell them apart: only when
    // this group brings the sum to the header's total are no goroutines missing. (A cut at a line
    // boundary inside the profile's very last group still passes; nothing in the body can reveal it.)
    if (!open->frames.empty() && sum + open->count == profile.total) {
      close_group();
    } else {
      cut = true;
      add_reason(profile.truncation_reason,
                 "body ends inside the stack group starting at line " + std::to_string(open_line));
    }
  }
  if (!cut && sum != profile.total) {
    add_reason(profile.truncation_reason, "the stack groups hold " + std::to_string(sum) +
                                              " goroutines but the header says total " + std::to_string(profile.total));
  }
  profile.strings = std::move(strings);
  return profile;
}

}  // namespace leakwatch::pprof
