// Parser for debug=2 goroutine dumps, runtime.Stack(buf, true) (grammar: docs/goroutine-profiles.md §3,
// runtime/traceback.go goroutineheader / traceback2 / printcreatedby1 / printAncestorTraceback):
//
//   dump    = record { LF { LF } record }                       records are separated by blank lines
//   record  = header { frame | elision | crashline } [ created ] { ancestor }
//   header  = "goroutine " ID [ " gp=0x" HEX " m=" ... ] " [" STATUS "]" [ " {" LABELS "}" ] ":" LF
//   frame   = FUNC "(" ARGS ")" LF TAB FILE ":" LINE [ " +0x" HEX ] [ REGS ] LF
//           | "non-Go function at pc=0x" HEX LF                 cgo frame without a symbolizer
//   REGS    = " fp=0x" HEX " sp=0x" HEX " pc=0x" HEX              crash dumps (GOTRACEBACK=system and up)
//   elision = "...additional frames elided..." LF | "..." N " frames elided..." LF
//   crashline = [ TAB ] "goroutine running on other thread; stack unavailable" LF
//   created = "created by " FUNC [ " in goroutine " ID ] LF TAB FILE ":" LINE [ " +0x" HEX ] LF
//   ancestor = "[originating from goroutine " ID "]:" LF { frame } [ elision ] [ created ]
//
// One pass over string_views into the body. A debug=2 dump has one record per goroutine (a million
// goroutines is a 150 MB body), so the per-goroutine path must neither allocate nor copy: a record's
// frames and labels are read into reusable scratch buffers (views into the body, label strings that
// keep their capacity), hashed, and looked up in a map from that hash to the group index; equality is
// verified on every hit, so a hash collision can cost time but never merge two stacks. std::strings are
// made only when a record starts a new group. Memory therefore grows with distinct stacks.
// Before any of that, a record whose lines after the header repeat those of a record read earlier byte
// for byte (most goroutines of one `go` statement, parked at one place) joins that record's group
// after one hash and one memcmp of its bytes, without being split into lines (BodyCache).
//
// Decisions (the header documents the contract, these are the whys):
// - Grouping key: the logical frames (function, file, line; leaf first) and the header labels. PCs,
//   offsets, argument words, goroutine IDs, minutes and the creator are not part of it: they differ
//   between goroutines of one stack. A group's creator is that of its first goroutine.
// - States: the STATUS text with the runtime's suffixes (", N minutes", ", locked to thread",
//   ", synctest bubble N") and markers (" (leaked)", " (scan)", " (durable)") stripped, so that
//   "chan send" counts as "chan send" whatever flags a goroutine had. " (durable)" also ends some
//   synctest wait reasons ("chan send (durable)"); it is stripped there too (bubbles exist only in
//   tests). The (leaked) flag of Go 1.26+ goroutineleak debug=2 dumps is therefore not kept: the model
//   has no place for it, and kind stays ProfileKind::goroutine (a debug=2 dump has no profile header
//   to say which endpoint served it). A group keeps at most kMaxStatesPerGroup distinct states; more
//   (only a hostile body could have them) are counted under kOtherStates.
// - Minutes: ", N minutes" goes into the wait histogram, a goroutine without it counts as 0 minutes.
// - IDs: each goroutine's ID goes into its group's bounded sample (sample_goroutine_id); an ID too long
//   for 64 bits saturates.
// - Frames: "(...)" inlined frames are frames like any other; "panic(...)" is runtime.gopanic, the
//   name debug=0/1 show; a final runtime.goexit is dropped; elision markers are skipped (the frames
//   on both sides are kept); cgo "non-Go function" lines become Frame{kUnknownFunction, "", 0} as in
//   debug=1; "[originating from goroutine N]:" ancestor blocks (GODEBUG tracebackancestors) are skipped.
// - A stack deeper than max_frames_per_stack keeps its leaf-most frames and the profile notes it in
//   truncation_reason (once); max_groups stops the parse with a truncation_reason; a line longer than
//   max_line_bytes is an error.
// - Truncation: Go cuts debug=2 at 64 MiB mid-line, and a reset connection cuts anywhere. A partial
//   last line (no '\n') is never trusted. At a line boundary the dump itself cannot tell a complete
//   last record from a cut one (Go ends the dump with the last record's '\n', no blank line), so the
//   last record counts as complete only when it ends the way records end: after its "created by"
//   location, or for goroutine 1 (never given one) after main.main or a "stack unavailable" line.
//   Otherwise it is dropped and truncation_reason says so. (A last record whose creator the runtime
//   hides is thus reported cut; that loses one goroutine, while trusting a cut record would invent a
//   stack.) A record cut inside its ancestor blocks is kept: its stack and creator are whole.
// - total is the number of goroutine records read (and grouped). debug=1 and debug=2 both leave out
//   system goroutines (runtime.* entry points), so two dumps of one idle process agree on it (63 in
//   tests/testdata/pprof).
// - A body with no complete record is an error (empty, garbage, or cut inside the first record): a
//   goroutine dump is never empty, since the goroutine writing it is in it.

#include "leakwatch/pprof/parser.hpp"
#include "text.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace leakwatch::pprof {
namespace {

using common::Error;
using namespace text;  // text.hpp: LineReader, byte tests, escapes, error messages

constexpr std::size_t kMaxStatesPerGroup = 64;
constexpr std::string_view kOtherStates = "(other states)";

constexpr std::string_view kHeaderPrefix = "goroutine ";
constexpr std::string_view kCreatedBy = "created by ";
constexpr std::string_view kInGoroutine = " in goroutine ";
constexpr std::string_view kAncestor = "[originating from goroutine ";
constexpr std::string_view kNonGo = "non-Go function at pc=";
constexpr std::string_view kStackUnavailable = "goroutine running on other thread; stack unavailable";
constexpr std::string_view kGoexit = "runtime.goexit";
constexpr std::string_view kMainMain = "main.main";

constexpr std::string_view kHeaderSyntax = "'goroutine <id> [<status>]:'";
constexpr std::string_view kLocationSyntax = "'\\t<file>:<line>[ +0x<offset>]'";

// By value, unlike consume(), for the per-line path (see run()).
bool has_prefix(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

// operator== on views compiles to an out-of-line call here (GCC 12 stops inlining in the big parser).
bool equals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

bool consume_suffix(std::string_view& s, std::string_view suffix) noexcept {
  if (!s.ends_with(suffix)) {
    return false;
  }
  s.remove_suffix(suffix.size());
  return true;
}

bool skip_digits(std::string_view& s) noexcept {
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n])) {
    ++n;
  }
  s.remove_prefix(n);
  return n > 0;
}

// Strips `prefix` followed by decimal digits from the end of `s` and returns the digits; nullopt (and
// `s` unchanged) when `s` does not end that way.
std::optional<std::string_view> strip_number_suffix(std::string_view& s, std::string_view prefix) noexcept {
  std::size_t i = s.size();
  while (i > 0 && is_digit(s[i - 1])) {
    --i;
  }
  if (i == s.size() || i < prefix.size() || s.substr(i - prefix.size(), prefix.size()) != prefix) {
    return std::nullopt;
  }
  const std::string_view digits = s.substr(i);
  s = s.substr(0, i - prefix.size());
  return digits;
}

// Decimal digits, saturating at `max` (minutes never matter beyond that, and the digits may be many).
std::uint64_t saturating_number(std::string_view digits, std::uint64_t max) noexcept {
  std::uint64_t value = 0;
  for (const char c : digits) {
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
    if (value >= max) {
      return max;
    }
  }
  return value;
}

// A bare label key or value: the runtime prints [A-Za-z0-9./_]* unquoted. Anything up to the next
// separator is accepted, so a future widening of that set still parses.
bool is_bare(char c) noexcept {
  return static_cast<unsigned char>(c) > 0x20 && c != ',' && c != ':' && c != '"' && c != '{' && c != '}';
}

const char* take_label_token(std::string_view& s, std::string& out) {
  if (!s.empty() && s.front() == '"') {
    return take_quoted(s, out);
  }
  std::size_t n = 0;
  while (n < s.size() && is_bare(s[n])) {
    ++n;
  }
  out.assign(s.data(), n);  // reuses out's capacity
  s.remove_prefix(n);
  return nullptr;
}

// A 64-bit hash that reads 16 bytes per step in two independent lanes (FNV would cost a dependent
// multiply per byte, too slow for a dump of a million records). It only groups records within one
// parse; common::stable_hash is for keys that must be stable.
constexpr std::uint64_t kHashMul = 0x9e3779b97f4a7c15ull;
constexpr std::uint64_t kHashMul2 = 0xc2b2ae3d27d4eb4full;

std::uint64_t hash_mix(std::uint64_t h, std::uint64_t w) noexcept {
  h = (h ^ w) * kHashMul;
  return h ^ (h >> 32);
}

std::uint64_t load64(const char* p) noexcept {
  std::uint64_t w = 0;
  std::memcpy(&w, p, 8);
  return w;
}

std::uint64_t hash_bytes(std::string_view s, std::uint64_t h) noexcept {
  const char* p = s.data();
  std::size_t n = s.size();
  std::uint64_t a = h;
  std::uint64_t b = h ^ kHashMul2;
  while (n >= 16) {
    a = hash_mix(a, load64(p));
    b = (b ^ load64(p + 8)) * kHashMul2;
    b ^= b >> 29;
    p += 16;
    n -= 16;
  }
  std::uint64_t w = 0;
  if (n >= 8) {
    // The last 8 bytes, overlapping what the loop read; the length below tells the cases apart.
    a = hash_mix(a, load64(p));
    w = load64(s.data() + s.size() - 8);
  } else if (n > 0) {
    std::memcpy(&w, p, n);
  }
  // The length keeps "ab"+"c" and "a"+"bc" apart.
  return hash_mix(a ^ (b * kHashMul), w ^ (static_cast<std::uint64_t>(s.size()) << 56));
}

// For whole record bodies (hundreds to thousands of bytes): four independent lanes of 8 bytes, 32 bytes
// per step, each lane an xxHash64-style round (multiply, add, rotate, multiply): the four multiply
// chains overlap, where hash_bytes's two lanes wait on each other's mixing.
std::uint64_t hash_long(const char* p, std::size_t n, std::uint64_t seed) noexcept {
  constexpr std::uint64_t kP1 = 0x9e3779b185ebca87ull;
  constexpr std::uint64_t kP2 = 0xc2b2ae3d27d4eb4full;
  const auto round = [](std::uint64_t lane, std::uint64_t w) noexcept {
    lane += w * kP2;
    lane = (lane << 31) | (lane >> 33);
    return lane * kP1;
  };
  const std::size_t size = n;
  std::uint64_t h = seed ^ (static_cast<std::uint64_t>(size) * kP1);
  if (n >= 32) {
    std::uint64_t a = seed + kP1 + kP2;
    std::uint64_t b = seed + kP2;
    std::uint64_t c = seed;
    std::uint64_t d = seed - kP1;
    do {
      a = round(a, load64(p));
      b = round(b, load64(p + 8));
      c = round(c, load64(p + 16));
      d = round(d, load64(p + 24));
      p += 32;
      n -= 32;
    } while (n >= 32);
    h = hash_mix(h, a);
    h = hash_mix(h, (b << 7) | (b >> 57));
    h = hash_mix(h, (c << 12) | (c >> 52));
    h = hash_mix(h, (d << 18) | (d >> 46));
  }
  while (n >= 8) {
    h = hash_mix(h, load64(p));
    p += 8;
    n -= 8;
  }
  std::uint64_t w = 0;
  std::memcpy(&w, p, n);
  return hash_mix(h, w ^ (static_cast<std::uint64_t>(n) << 56));
}

struct FrameView {
  std::string_view function;  // kUnknownFunction for a cgo frame
  std::string_view file;
  std::uint32_t line = 0;
};

// The location line after a function or "created by" line:
// TAB FILE ":" LINE [ " +0x" HEX ] [ " fp=0x" HEX " sp=0x" HEX " pc=0x" HEX ]. FILE may hold spaces and
// colons, so everything is taken from the right, in one backward pass of plain byte tests: this runs
// for every frame of every goroutine.
bool parse_location(std::string_view text, FrameView& frame) noexcept {
  if (text.empty() || text.front() != '\t') {
    return false;
  }
  const char* b = text.data();
  std::size_t end = text.size();
  const auto hex_start = [b](std::size_t i) noexcept {
    while (i > 1 && is_hex(b[i - 1])) {
      --i;
    }
    return i;
  };
  std::size_t i = hex_start(end);
  // Crash dumps (GOTRACEBACK=system and up) add the frame's registers " fp=0x.. sp=0x.. pc=0x..".
  for (int registers = 0;
       registers < 3 && i < end && i >= 7 && b[i - 1] == 'x' && b[i - 2] == '0' && b[i - 3] == '=' && b[i - 6] == ' ';
       ++registers) {
    end = i - 6;
    i = hex_start(end);
  }
  // " +0x<offset>" is absent on inlined frames and on functions stopped at their first instruction.
  if (i < end && i >= 5 && b[i - 1] == 'x' && b[i - 2] == '0' && b[i - 3] == '+' && b[i - 4] == ' ') {
    end = i - 4;
  }
  std::size_t colon = end;
  while (colon > 1 && is_digit(b[colon - 1])) {
    --colon;
  }
  // 1 to 10 digits (uint32), after a ':' that follows a non-empty file.
  if (colon == end || end - colon > 10 || colon < 3 || b[colon - 1] != ':') {
    return false;
  }
  std::uint64_t line = 0;
  for (std::size_t k = colon; k < end; ++k) {
    line = line * 10 + static_cast<std::uint64_t>(b[k] - '0');
  }
  if (line > std::numeric_limits<std::uint32_t>::max()) {
    return false;
  }
  frame.file = std::string_view(b + 1, colon - 2);
  frame.line = static_cast<std::uint32_t>(line);
  return true;
}

// FUNC "(" ARGS ")": the arguments (hex words, '?', '{', '}', "...", '_', ", ") hold no parentheses,
// while the name may ("sync.(*Mutex).Lock"), so the '(' that opens them is the last one.
bool parse_function(std::string_view text, std::string_view& function) noexcept {
  if (text.size() < 3 || text.back() != ')') {
    return false;
  }
  // memrchr (glibc) rather than rfind: argument lists run to dozens of bytes, rfind goes byte by byte.
  const void* found = ::memrchr(text.data(), '(', text.size() - 1);
  if (found == nullptr || found == text.data()) {
    return false;
  }
  function = text.substr(0, static_cast<std::size_t>(static_cast<const char*>(found) - text.data()));
  if (function == "panic") {
    function = "runtime.gopanic";  // printFuncName's only rename
  }
  return true;
}

bool is_elision(std::string_view text) noexcept {
  return text.size() > 12 && has_prefix(text, "...") && text.substr(text.size() - 9) == "elided...";
}

std::size_t wait_bucket(std::uint32_t minutes) noexcept {
  std::size_t i = 0;
  while (i + 1 < kWaitMinuteBounds.size() && minutes > kWaitMinuteBounds[i]) {
    ++i;
  }
  return i;
}

// Offset of the first "\n\n" (a line end followed by an empty line) at or after `from`, or npos.
// SSE2 (every x86-64 has it) compares 16 positions per step; elsewhere, a byte loop.
std::size_t find_blank_line(const char* data, std::size_t size, std::size_t from) noexcept {
  std::size_t i = from;
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  const auto pairs = [&](std::size_t at) noexcept {  // bit k: data[at + k] and data[at + k + 1] are '\n'
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + at));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + at + 1));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, nl), _mm_cmpeq_epi8(b, nl))));
  };
  // Records run to hundreds of bytes: 32 per step, one branch.
  while (i + 33 <= size) {
    const unsigned mask = pairs(i) | (pairs(i + 16) << 16);
    if (mask != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
    i += 32;
  }
  while (i + 17 <= size) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 1));
    const int mask = _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, nl), _mm_cmpeq_epi8(b, nl)));
    if (mask != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
    i += 16;
  }
#endif
  for (; i + 1 < size; ++i) {
    if (data[i] == '\n' && data[i + 1] == '\n') {
      return i;
    }
  }
  return std::string_view::npos;
}

// Remembers the byte ranges of recent record bodies (the lines after the header, up to the blank line
// that ends the record) and the group each one went to. Goroutines started by one `go` statement and
// parked at one place print byte-identical bodies (the argument words are often the same too: 0x0?,
// "..."), and identical bytes parse identically, so a record whose body equals a remembered one joins
// that body's group after one memcmp, without reading its lines, hashing its frames or comparing them
// to the group's. Records whose bodies differ (different argument words, a different creator) miss and
// take the normal path, which costs them a hash of a few words and at most kWays length compares.
//
// Soundness: a body is remembered only after the normal path read it without error, up to a blank line
// that is exactly "\n", with no line cut short; so a remembered body holds no empty or blank-only line,
// and a record whose bytes equal it, followed by "\n", would have been read the same way line by line
// (the header, parsed normally every time, supplies state, minutes and labels; a hit also requires the
// group's labels to equal the record's). Entries are views into the input and the table grows with the
// number of groups, so memory stays proportional to distinct stacks, not goroutines.
class BodyCache {
 public:
  static constexpr std::size_t kWays = 4;
  static constexpr std::size_t kMinCap = 256;
  static constexpr std::size_t kEntriesPerGroup = 16;

  struct Hit {
    std::uint32_t group = 0;
    std::size_t bytes = 0;  // the body and its blank line
    std::size_t lines = 0;  // the same, in lines
  };

  BodyCache(std::string_view input, std::uint64_t seed) : data_(input.data()), size_(input.size()), seed_(seed) {}

  // The remembered body that the bytes at `start` repeat, if any.
  std::optional<Hit> find(std::size_t start) noexcept {
    if (sets_ == 0 || start >= size_ || data_[start] == '\n') {
      return std::nullopt;  // nothing remembered yet, or an empty body: nothing to skip
    }
    if (!counted_lookup()) {
      return std::nullopt;
    }
    const std::size_t end = blank_line_at_or_after(start);
    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    const std::size_t length = end + 1 - start;  // the body with its last '\n'
    const std::uint64_t hash = key(start, length);
    looked_up_start_ = start;
    looked_up_length_ = length;
    looked_up_hash_ = hash;
    const Entry* set = &entries_[(hash & (sets_ - 1)) * kWays];
    for (std::size_t way = 0; way < kWays; ++way) {
      const Entry& e = set[way];
      if (e.hash == hash && e.length == length && std::memcmp(data_ + e.start, data_ + start, length) == 0) {
        ++window_hits_;
        return Hit{e.group, length + 1, std::size_t{e.lines} + 1};
      }
    }
    return std::nullopt;
  }

  // Remembers that the body [start, start + length) with `lines` lines went to `group`, which it
  // created if `new_group`; `groups` is the number of groups so far.
  void remember(std::size_t start, std::size_t length, std::size_t lines, std::uint32_t group, bool new_group,
                std::size_t groups) {
    if (resting_ > 0 || length == 0 || length > std::numeric_limits<std::uint32_t>::max() ||
        lines > std::numeric_limits<std::uint32_t>::max()) {
      return;
    }
    if (!new_group) {
      ++window_wasted_;
    }
    // Sized by the bodies remembered, not the groups: one stack may print many different bodies (argument
    // words), and those that repeat should still fit. Capped in proportion to the groups, so memory never
    // follows the goroutine count (a dump whose every body differs keeps a small table and just misses).
    ++remembered_;
    const std::size_t cap = std::max(kMinCap, kEntriesPerGroup * groups);
    if (sets_ == 0 || (remembered_ > sets_ * kWays / 2 && sets_ * kWays < cap)) {
      grow();
    }
    // A record that missed was usually just looked up with the same body: reuse that hash.
    const std::uint64_t hash = start == looked_up_start_ && length == looked_up_length_ ? looked_up_hash_
                                                                                        : key(start, length);
    insert(Entry{start, hash, static_cast<std::uint32_t>(length), static_cast<std::uint32_t>(lines), group});
  }

 private:
  // When every goroutine prints its own argument words, lookups keep missing records of stacks already
  // known, and their scan and hash are wasted (about a tenth of reading the record line by line). So
  // lookups are counted in windows, and after a window with more than kMaxWastePerHit such misses per
  // hit the cache sits out kRestWindows windows' worth of records (neither looking up nor remembering),
  // then tries again. Misses of stacks seen for the first time are not counted: they are unavoidable,
  // and a dump of thousands of stacks each repeated later starts with a long run of them.
  static constexpr std::size_t kWindow = 1024;
  static constexpr std::size_t kMaxWastePerHit = 32;
  static constexpr std::size_t kRestWindows = 16;

  // False while resting; otherwise counts the lookup about to be made.
  bool counted_lookup() noexcept {
    if (resting_ > 0) {
      --resting_;
      return false;
    }
    if (++window_lookups_ > kWindow) {
      if (window_wasted_ > window_hits_ * kMaxWastePerHit) {
        resting_ = kRestWindows * kWindow;
      }
      window_lookups_ = 0;
      window_hits_ = 0;
      window_wasted_ = 0;
      return resting_ == 0;
    }
    return true;
  }

  struct Entry {
    std::size_t start = 0;
    std::uint64_t hash = 0;
    std::uint32_t length = 0;  // 0: empty
    std::uint32_t lines = 0;
    std::uint32_t group = 0;
  };

  void insert(const Entry& entry) noexcept {
    Entry* set = &entries_[(entry.hash & (sets_ - 1)) * kWays];
    std::size_t way = 0;
    while (way < kWays && set[way].length != 0) {
      ++way;
    }
    if (way == kWays) {
      way = victim_++ % kWays;  // all ways taken: evict one, round robin
    }
    set[way] = entry;
  }

  void grow() {
    const std::size_t sets = std::max<std::size_t>(sets_ * 2, 16);
    std::vector<Entry> old(sets * kWays);
    old.swap(entries_);
    sets_ = sets;
    for (const Entry& e : old) {
      if (e.length != 0) {
        insert(e);
      }
    }
  }

  // The search for "\n\n" is remembered, so that records ending earlier (at a blank line holding spaces,
  // or in error) never make the same bytes be scanned again: the total scan stays linear in the input.
  std::size_t blank_line_at_or_after(std::size_t from) noexcept {
    if (from < searched_from_ || (found_ != std::string_view::npos && from > found_)) {
      searched_from_ = from;
      found_ = find_blank_line(data_, size_, from);
    }
    return found_;
  }

  // All of the body's bytes: stacks that differ in one line number deep inside must land in different
  // sets, or a dump of thousands of similar stacks would keep evicting its own entries.
  std::uint64_t key(std::size_t start, std::size_t length) const noexcept {
    return hash_long(data_ + start, length, seed_);
  }

  const char* data_;
  std::size_t size_;
  std::uint64_t seed_;
  std::vector<Entry> entries_;
  std::size_t sets_ = 0;
  std::size_t victim_ = 0;
  std::size_t remembered_ = 0;
  std::size_t window_lookups_ = 0;
  std::size_t window_hits_ = 0;
  std::size_t window_wasted_ = 0;    // misses that went to a group already known
  std::size_t resting_ = 0;          // records left to skip
  std::size_t looked_up_start_ = 0;  // the last body find() hashed
  std::size_t looked_up_length_ = 0;
  std::uint64_t looked_up_hash_ = 0;
  std::size_t searched_from_ = std::string_view::npos;
  std::size_t found_ = std::string_view::npos;
};

// Everything read from one goroutine record, as views into the body. Reused for every record: the
// vectors and label strings keep their capacity, so a record allocates nothing once they are warm.
struct Record {
  std::size_t line = 0;  // of the header
  std::string_view state;
  std::uint32_t minutes = 0;
  std::uint64_t id = 0;
  bool main_goroutine = false;    // goroutine 1, the only one printed without "created by"
  std::vector<FrameView> frames;  // at most max_frames_per_stack, leaf first
  std::size_t dropped_frames = 0;
  std::string_view last_function;  // of the last frame read, kept or not
  Labels labels;                   // the first label_count entries are this record's
  std::size_t label_count = 0;
  FrameView creator;
  bool has_creator = false;
  bool stack_unavailable = false;
  FrameView pending;  // a function line waiting for its location line

  void reset(std::size_t header_line) noexcept {
    line = header_line;
    state = {};
    minutes = 0;
    id = 0;
    main_goroutine = false;
    frames.clear();
    dropped_frames = 0;
    last_function = {};
    label_count = 0;
    creator = {};
    has_creator = false;
    stack_unavailable = false;
  }
};

class Parser {
 public:
  Parser(std::string_view bytes, const Limits& limits)
      : bytes_(bytes), reader_(bytes, limits.max_line_bytes), limits_(limits), body_cache_(bytes, seed_) {}

  common::Result<Profile> run();

 private:
  enum class Phase {
    between,           // before the first record or after a blank line: a header or more blank lines
    frames,            // after the header or a frame: frames, "created by", elisions, crash lines, blank
    location,          // after a function line: its location line
    creator_location,  // after "created by": its location line
    after_creator,     // the record's end: blank, or ancestors
    ancestors,         // inside "[originating from goroutine N]:" blocks: skipped up to the blank line
  };
  enum class Close { ok, stopped };

  std::optional<Error> parse_header(std::string_view text, std::size_t number);
  const char* parse_labels(std::string_view s);
  bool other_line(std::string_view text, std::size_t number, Phase& phase, std::optional<Error>& error);
  void add_frame(const FrameView& frame);
  bool complete_at_end() const noexcept;
  Close close_record();
  std::uint64_t record_hash() const noexcept;
  bool record_equals(const StackGroup& group) const noexcept;
  bool labels_equal(const StackGroup& group) const noexcept;
  void add_state(StackGroup& group) const;
  StackGroup make_group();

  std::string_view bytes_;
  LineReader reader_;
  const Limits& limits_;
  Profile profile_;
  std::shared_ptr<StringPool> strings_ = std::make_shared<StringPool>();  // becomes profile_.strings
  Record record_;
  std::unordered_map<std::uint64_t, std::uint32_t> index_;  // record hash (probed on collision) -> group
  bool frames_capped_ = false;
  // The body comes from an untrusted endpoint: a hash it could predict would let it send thousands of
  // distinct stacks with one hash, each probing past all the others. Seeding with an address that
  // ASLR randomizes makes that guesswork; the groups found do not depend on the seed.
  const std::uint64_t seed_ = hash_mix(0x6c65616b77617463ull, reinterpret_cast<std::uintptr_t>(this));
  BodyCache body_cache_;          // after seed_, which it is built with
  std::size_t body_start_ = 0;    // offset of the current record's first line after its header
  std::uint32_t last_group_ = 0;  // the group close_record() put the last record in
};

std::optional<Error> Parser::parse_header(const std::string_view text, const std::size_t number) {
  std::string_view s = text;
  if (!consume(s, kHeaderPrefix)) {
    return expected_error(number, text, kHeaderSyntax);
  }
  record_.main_goroutine = s.starts_with("1") && (s.size() == 1 || !is_digit(s[1]));
  const std::string_view id_digits = s;
  if (!skip_digits(s)) {
    return expected_error(number, text, kHeaderSyntax);
  }
  record_.id = saturating_number(id_digits.substr(0, id_digits.size() - s.size()),
                                 std::numeric_limits<std::uint64_t>::max() / 10);
  profile_.max_goroutine_id = std::max(profile_.max_goroutine_id, record_.id);
  // STATUS is the text between the first '[' and the first ']' (it never holds ']'; quoted labels
  // after it may). Between the ID and '[': " ", or crash dumps' " gp=0x.. m=.. [mp=0x..] ".
  const std::size_t open = s.find('[');
  if (open == std::string_view::npos) {
    return expected_error(number, text, kHeaderSyntax);
  }
  const std::string_view between = s.substr(0, open);
  if (between != " " && !(between.starts_with(" gp=") && between.ends_with(' '))) {
    return expected_error(number, text, kHeaderSyntax);
  }
  s.remove_prefix(open + 1);
  const std::size_t close = s.find(']');
  if (close == std::string_view::npos) {
    return expected_error(number, text, kHeaderSyntax);
  }
  std::string_view status = s.substr(0, close);
  std::string_view rest = s.substr(close + 1);
  if (!consume_suffix(rest, ":")) {
    return expected_error(number, text, kHeaderSyntax);
  }
  if (!rest.empty()) {
    // Go 1.27 header labels: " {key: value, "quoted key": "v"}".
    if (!consume(rest, " {") || !consume_suffix(rest, "}")) {
      return expected_error(number, text, "'goroutine <id> [<status>] {<key>: <value>, ...}:'");
    }
    if (const char* why = parse_labels(rest)) {
      return line_error(number, std::string{"bad labels: "} + why);
    }
  }

  // The runtime appends, in this order: markers, ", N minutes", ", locked to thread",
  // ", synctest bubble N"; strip them from the right. The last byte says which can be there, which
  // spares the common "[chan receive]" all the comparisons.
  if (!status.empty() && is_digit(status.back())) {
    strip_number_suffix(status, ", synctest bubble ");
  }
  if (status.ends_with('d')) {
    consume_suffix(status, ", locked to thread");
  }
  if (std::string_view minutes_part = status; consume_suffix(minutes_part, " minutes")) {
    if (const auto digits = strip_number_suffix(minutes_part, ", ")) {
      record_.minutes = static_cast<std::uint32_t>(saturating_number(*digits,
                                                                     std::numeric_limits<std::uint32_t>::max()));
      status = minutes_part;
    }
  }
  while (status.ends_with(')') && (consume_suffix(status, " (durable)") || consume_suffix(status, " (scan)") ||
                                   consume_suffix(status, " (leaked)"))) {
  }
  if (status.empty()) {
    return expected_error(number, text, "a status in 'goroutine <id> [<status>]:'");
  }
  record_.state = status;
  return std::nullopt;
}

// `s` is the text between " {" and the closing '}'.
const char* Parser::parse_labels(std::string_view s) {
  Labels& labels = record_.labels;
  std::size_t& n = record_.label_count;
  while (!s.empty()) {
    if (labels.size() == n) {
      labels.emplace_back();
    }
    auto& [key, value] = labels[n];
    if (const char* why = take_label_token(s, key)) {
      return why;
    }
    if (!consume(s, ": ") && !consume(s, ":")) {
      return "expected ': ' after a label key";
    }
    if (const char* why = take_label_token(s, value)) {  // may be empty: "{k: }"
      return why;
    }
    ++n;
    if (s.empty()) {
      break;
    }
    if (!consume(s, ",")) {
      return "expected ', ' between labels";
    }
    while (consume(s, " ")) {
    }
    if (s.empty()) {
      return "trailing ',' in labels";
    }
  }
  // The runtime prints them sorted by key; the model promises that order whatever the input did.
  const auto end = labels.begin() + static_cast<std::ptrdiff_t>(n);
  if (!std::is_sorted(labels.begin(), end)) {
    std::sort(labels.begin(), end);
  }
  return nullptr;
}

// A line inside a record that is not a function line (phase frames or after_creator): ancestors,
// "created by", elision markers, cgo frames, crash lines. False if `text` is none of them, that is a
// function line. Kept out of line: see run().
[[gnu::noinline]] bool Parser::other_line(const std::string_view text, const std::size_t number, Phase& phase,
                                          std::optional<Error>& error) {
  if (has_prefix(text, kAncestor)) {
    phase = Phase::ancestors;
    return true;
  }
  if (phase == Phase::after_creator) {
    error = expected_error(number, text,
                           "the blank line ending the goroutine record at line " + std::to_string(record_.line) +
                               " or '[originating from goroutine <id>]:'");
    return true;
  }
  if (has_prefix(text, kCreatedBy)) {
    // "created by FUNC[ in goroutine N]": the name holds no parentheses here (no arguments).
    std::string_view function = text.substr(kCreatedBy.size());
    strip_number_suffix(function, kInGoroutine);
    if (function.empty()) {
      error = expected_error(number, text, "'created by <function>'");
      return true;
    }
    record_.creator.function = function;
    phase = Phase::creator_location;
    return true;
  }
  if (is_elision(text)) {
    return true;
  }
  if (has_prefix(text, kNonGo)) {
    add_frame(FrameView{kUnknownFunction, {}, 0});
    return true;
  }
  if (text == kStackUnavailable || text.substr(1) == kStackUnavailable) {
    record_.stack_unavailable = true;
    return true;
  }
  if (text.front() == '\t') {
    error = expected_error(number, text, "a function line '<function>(<args>)' before this location line");
    return true;
  }
  return false;
}

void Parser::add_frame(const FrameView& frame) {
  record_.last_function = frame.function;
  if (record_.frames.size() >= limits_.max_frames_per_stack) {
    ++record_.dropped_frames;
    return;
  }
  record_.frames.push_back(frame);
}

// Whether a record the body ends in (at a line boundary) ends the way complete records end: every
// goroutine but the main one gets a "created by" after its frames (after runtime.goexit too, when
// that is printed), and the main goroutine's outermost shown frame is main.main.
bool Parser::complete_at_end() const noexcept {
  if (record_.has_creator) {
    return true;
  }
  if (!record_.main_goroutine) {
    return false;
  }
  return record_.stack_unavailable ||
         (record_.dropped_frames == 0 && !record_.frames.empty() && record_.frames.back().function == kMainMain);
}

std::uint64_t Parser::record_hash() const noexcept {
  std::uint64_t h = hash_mix(seed_, record_.frames.size());
  for (const FrameView& f : record_.frames) {
    h = hash_bytes(f.function, h);
    h = hash_bytes(f.file, h);
    h = hash_mix(h, f.line);
  }
  h = hash_mix(h, record_.label_count);
  for (std::size_t i = 0; i < record_.label_count; ++i) {
    h = hash_bytes(record_.labels[i].first, h);
    h = hash_bytes(record_.labels[i].second, h);
  }
  return h;
}

bool Parser::record_equals(const StackGroup& group) const noexcept {
  if (group.frames.size() != record_.frames.size() || group.labels.size() != record_.label_count) {
    return false;
  }
  for (std::size_t i = 0; i < record_.frames.size(); ++i) {
    const FrameView& a = record_.frames[i];
    const Frame& b = group.frames[i];
    if (a.line != b.line || !equals(a.function, b.function) || !equals(a.file, b.file)) {
      return false;
    }
  }
  return labels_equal(group);
}

bool Parser::labels_equal(const StackGroup& group) const noexcept {
  if (group.labels.size() != record_.label_count) {
    return false;
  }
  for (std::size_t i = 0; i < record_.label_count; ++i) {
    if (record_.labels[i] != group.labels[i]) {
      return false;
    }
  }
  return true;
}

void Parser::add_state(StackGroup& group) const {
  sample_goroutine_id(group.goroutine_ids, record_.id);
  ++group.wait_minutes.counts[wait_bucket(record_.minutes)];
  group.wait_minutes.max_minutes = std::max(group.wait_minutes.max_minutes, record_.minutes);
  for (StateCount& s : group.states) {
    if (equals(s.state, record_.state)) {
      ++s.count;
      return;
    }
  }
  if (group.states.size() < kMaxStatesPerGroup) {
    group.states.push_back(StateCount{std::string{record_.state}, 1});
    return;
  }
  // Only reached with kMaxStatesPerGroup distinct states, one of which may already be kOtherStates.
  for (StateCount& s : group.states) {
    if (s.state == kOtherStates) {
      ++s.count;
      return;
    }
  }
  group.states.push_back(StateCount{std::string{kOtherStates}, 1});
}

StackGroup Parser::make_group() {
  StackGroup group;
  group.frames.reserve(record_.frames.size());
  for (const FrameView& f : record_.frames) {
    group.frames.push_back(Frame{strings_->intern(f.function), strings_->intern(f.file), f.line});
  }
  group.labels.assign(record_.labels.begin(),
                      record_.labels.begin() + static_cast<std::ptrdiff_t>(record_.label_count));
  if (record_.has_creator) {
    group.creator = Frame{strings_->intern(record_.creator.function), strings_->intern(record_.creator.file),
                          record_.creator.line};
  }
  return group;
}

Parser::Close Parser::close_record() {
  if (equals(record_.last_function, kGoexit)) {
    // A final runtime.goexit is not part of the logical stack (debug=1/0 drop it too).
    if (record_.dropped_frames > 0) {
      --record_.dropped_frames;
    } else {
      record_.frames.pop_back();
    }
  }
  if (record_.dropped_frames > 0 && !frames_capped_) {
    frames_capped_ = true;
    add_reason(profile_.truncation_reason, "the goroutine record at line " + std::to_string(record_.line) +
                                               " has more than max_frames_per_stack (" +
                                               std::to_string(limits_.max_frames_per_stack) +
                                               ") frames; kept the leaf-most ones");
  }

  std::uint64_t key = record_hash();
  std::uint32_t index = 0;
  while (true) {
    const auto it = index_.find(key);
    if (it == index_.end()) {
      if (profile_.groups.size() >= limits_.max_groups) {
        add_reason(profile_.truncation_reason, "stopped at max_groups (" + std::to_string(limits_.max_groups) +
                                                   "): the goroutine record at line " + std::to_string(record_.line) +
                                                   " and any after it were not read");
        return Close::stopped;
      }
      index = static_cast<std::uint32_t>(profile_.groups.size());
      profile_.groups.push_back(make_group());
      index_.emplace(key, index);
      break;
    }
    if (record_equals(profile_.groups[it->second])) {
      index = it->second;
      break;
    }
    ++key;  // a different stack with the same hash: probe the next key
  }
  last_group_ = index;
  StackGroup& group = profile_.groups[index];
  ++group.count;
  add_state(group);
  ++profile_.total;
  return Close::ok;
}

common::Result<Profile> Parser::run() {
  Line line;
  Phase phase = Phase::between;
  bool cut = false;      // the body ended inside a record
  bool stopped = false;  // max_groups reached
  std::size_t first_line = 0;

  while (true) {
    const auto status = reader_.next(line);
    if (status == LineReader::Status::end) {
      break;
    }
    if (status == LineReader::Status::too_long) {
      return line_error(reader_.number(),
                        "longer than max_line_bytes (" + std::to_string(limits_.max_line_bytes) + ")");
    }
    if (!line.terminated) {
      if (line.text.empty()) {
        break;  // only a "\r" (or blanks) after the last '\n': nothing was cut
      }
      // A partial line may be cut anywhere ("main.go:16" of "main.go:166"), so its record is dropped.
      // Only a line that could not even start a header is an error: a garbage body without a newline.
      if (phase == Phase::between) {
        std::string_view s = line.text;
        const bool header_start = kHeaderPrefix.starts_with(s) ||
                                  (consume(s, kHeaderPrefix) && !s.empty() && is_digit(s.front()));
        if (!header_start) {
          return expected_error(line.number, line.text, kHeaderSyntax);
        }
        record_.reset(line.number);
      } else if (phase == Phase::after_creator || phase == Phase::ancestors) {
        // The stack and its creator are whole; only ancestors, which the model leaves out, were cut.
        stopped = close_record() == Close::stopped;
      }
      cut = !stopped;
      phase = Phase::between;
      break;
    }

    switch (phase) {
      case Phase::between:
        if (line.text.empty()) {
          continue;  // Go writes one blank line between records; tolerate more, and leading ones
        }
        record_.reset(line.number);
        if (first_line == 0) {
          first_line = line.number;
        }
        if (auto error = parse_header(line.text, line.number)) {
          return std::move(*error);
        }
        body_start_ = reader_.position();
        if (const auto hit = body_cache_.find(body_start_)) {
          if (StackGroup& group = profile_.groups[hit->group]; labels_equal(group)) {
            // The same bytes as a body read before: the same frames, so the same group (see BodyCache).
            reader_.skip(hit->bytes, hit->lines);
            ++group.count;
            add_state(group);
            ++profile_.total;
            continue;  // still between records
          }
        }
        phase = Phase::frames;
        continue;
      case Phase::location:
        if (!parse_location(line.text, record_.pending)) {
          return expected_error(line.number, line.text, kLocationSyntax);
        }
        add_frame(record_.pending);
        phase = Phase::frames;
        continue;
      case Phase::creator_location:
        if (!parse_location(line.text, record_.creator)) {
          return expected_error(line.number, line.text, kLocationSyntax);
        }
        record_.has_creator = true;
        phase = Phase::after_creator;
        continue;
      case Phase::frames:
      case Phase::after_creator:
      case Phase::ancestors: break;
    }

    // Never modified and never passed by reference: a view whose address is taken lives in memory,
    // and reading it back right after it was written costs a store-forwarding stall on every line.
    const std::string_view text = line.text;
    if (text.empty()) {
      phase = Phase::between;
      const std::size_t groups_before = profile_.groups.size();
      if (close_record() == Close::stopped) {
        stopped = true;
        break;
      }
      // A blank line that is exactly "\n" ends a body the cache may match later (see BodyCache).
      const std::size_t blank = static_cast<std::size_t>(text.data() - bytes_.data());
      if (bytes_[blank] == '\n') {
        body_cache_.remember(body_start_, blank - body_start_, line.number - record_.line - 1, last_group_,
                             profile_.groups.size() != groups_before, profile_.groups.size());
      }
      continue;
    }
    if (phase == Phase::ancestors) {
      continue;
    }
    // Most lines are function lines; the rarer kinds start with one of a few bytes, and are handled
    // out of line so that `text` stays in registers here.
    const char first = text.front();
    if (phase == Phase::after_creator || first == '[' || first == 'c' || first == '.' || first == 'n' || first == 'g' ||
        first == '\t') {
      std::optional<Error> error;
      if (other_line(text, line.number, phase, error)) {
        if (error) {
          return std::move(*error);
        }
        continue;
      }
    }
    if (!parse_function(text, record_.pending.function)) {
      return expected_error(line.number, line.text,
                            "a frame '<function>(<args>)', 'created by <function>' or the blank line "
                            "ending the goroutine record at line " +
                                std::to_string(record_.line));
    }
    phase = Phase::location;
  }

  if (!stopped && phase != Phase::between) {
    // The body ends (at a line boundary) inside a record: Go ends a dump with the last record's '\n'.
    if ((phase == Phase::frames || phase == Phase::after_creator || phase == Phase::ancestors) && complete_at_end()) {
      stopped = close_record() == Close::stopped;
    } else {
      cut = true;
    }
  }
  if (cut) {
    if (profile_.total == 0 && profile_.groups.empty()) {
      if (first_line == 0) {
        first_line = record_.line;
      }
      return line_error(reader_.number(), "body ends inside the first goroutine record (starting at line " +
                                              std::to_string(first_line) + ")");
    }
    add_reason(profile_.truncation_reason,
               "body ends inside the goroutine record starting at line " + std::to_string(record_.line));
  }
  if (profile_.total == 0 && !stopped) {
    if (reader_.number() == 0) {
      return line_error(1, "empty body, expected " + std::string{kHeaderSyntax});
    }
    return line_error(reader_.number(), "no goroutine record, expected " + std::string{kHeaderSyntax});
  }

  // Most goroutines first; ties keep the order of first appearance.
  std::stable_sort(profile_.groups.begin(), profile_.groups.end(),
                   [](const StackGroup& a, const StackGroup& b) { return a.count > b.count; });
  for (StackGroup& group : profile_.groups) {
    std::stable_sort(group.states.begin(), group.states.end(),
                     [](const StateCount& a, const StateCount& b) { return a.count > b.count; });
  }
  profile_.strings = std::move(strings_);
  return std::move(profile_);
}

}  // namespace

common::Result<Profile> parse_debug2(std::string_view bytes, const Limits& limits) {
  Parser parser(bytes, limits);
  return parser.run();
}

}  // namespace leakwatch::pprof
