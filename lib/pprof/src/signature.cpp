// Stack normalization, wait classes, leak sites and signatures (reference sections 2, 6.6 and 7).
//
// Decisions (the header documents the contract, these are the whys):
// - The signature leaves out the wait class, although reference 7.6 suggests hashing it: debug=1 and
//   debug=2 hide the leading runtime frames that name it, so it would split one stack by format.
// - Frames are normalized into a copy for hashing; the group keeps the frames as printed, which is what
//   a person wants to open in an editor.
// - A standard-library file is recognised by its function's package (no dot in the first path element,
//   not main) rather than by the path alone: an application path may contain "/src/" too, and cutting it
//   there would make the shown path harder to find for no gain in stability.
// - Unsymbolized frames (kUnknownFunction) are a leak site only when the stack has nothing else: they
//   name nothing. They still count towards the depth like any other frame.
// - Names are untrusted and may be ~1 MiB long: bracket matching is one linear pass, never a rescan per
//   '[' (a name of a million unclosed '[' would otherwise cost 10^12 steps).

#include "leakwatch/pprof/signature.hpp"

#include "leakwatch/common/hash.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace leakwatch::pprof {
namespace {

// "%2e" or "%2E" at position i.
bool escaped_dot_at(std::string_view s, std::size_t i) noexcept {
  return i + 2 < s.size() && s[i] == '%' && s[i + 1] == '2' && (s[i + 2] == 'e' || s[i + 2] == 'E');
}

// Type-argument lists replaced by `replacement`, "%2e" decoded when `decode` is set. An unclosed '[' is
// kept as text.
std::string rewrite_function(std::string_view function, std::string_view replacement, bool decode) {
  // Most names have neither: one scan, one copy.
  if (function.find('[') == std::string_view::npos && function.find('%') == std::string_view::npos) {
    return std::string{function};
  }
  // close[i]: the index of the ']' closing the '[' at i, or npos; found with one stack, in one pass.
  std::vector<std::size_t> close;
  if (function.find('[') != std::string_view::npos) {
    close.assign(function.size(), std::string_view::npos);
    std::vector<std::size_t> open;
    for (std::size_t i = 0; i < function.size(); ++i) {
      if (function[i] == '[') {
        open.push_back(i);
      } else if (function[i] == ']' && !open.empty()) {
        close[open.back()] = i;
        open.pop_back();
      }
    }
  }
  std::string out;
  out.reserve(function.size());
  for (std::size_t i = 0; i < function.size();) {
    if (function[i] == '[' && close[i] != std::string_view::npos) {
      out += replacement;
      i = close[i] + 1;
      continue;
    }
    if (decode && escaped_dot_at(function, i)) {
      out += '.';
      i += 3;
      continue;
    }
    out += function[i];
    ++i;
  }
  return out;
}

bool is_standard_package(std::string_view package) noexcept {
  if (package.empty() || package == "main") return false;
  const std::string_view first = package.substr(0, package.find('/'));
  return first.find('.') == std::string_view::npos;
}

// The module cache writes upper-case letters as '!' plus the lower-case letter.
std::string unescape_module_path(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '!' && i + 1 < escaped.size() && escaped[i + 1] >= 'a' && escaped[i + 1] <= 'z') {
      out += static_cast<char>(escaped[i + 1] - 'a' + 'A');
      ++i;
    } else {
      out += escaped[i];
    }
  }
  return out;
}

// "<module>@<version>/<path>" -> "<module>/<path>"; nullopt-like empty result when `s` has no such shape.
std::string strip_module_version(std::string_view s) {
  const std::size_t at = s.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 >= s.size() || s[at + 1] != 'v') return {};
  const std::size_t slash = s.find('/', at);
  if (slash == std::string_view::npos) return {};
  return unescape_module_path(s.substr(0, at)) + std::string(s.substr(slash));
}

std::string normalize_file(std::string_view file, std::string_view package) {
  constexpr std::string_view kSrc = "/src/";
  constexpr std::string_view kModCache = "/pkg/mod/";
  if (is_standard_package(package)) {
    if (const std::size_t src = file.rfind(kSrc); src != std::string_view::npos) {
      return std::string(file.substr(src + kSrc.size()));
    }
  }
  if (const std::size_t mod = file.rfind(kModCache); mod != std::string_view::npos) {
    if (auto stripped = strip_module_version(file.substr(mod + kModCache.size())); !stripped.empty()) {
      return stripped;
    }
  }
  // -trimpath prints dependency files as "<module>@<version>/<path>": relative, '@' in the first part.
  const bool absolute = file.starts_with('/') || (file.size() > 2 && file[1] == ':' && file[2] == '/');
  if (!absolute) {
    const std::size_t at = file.find('@');
    const std::size_t space = file.find(' ');
    if (at != std::string_view::npos && (space == std::string_view::npos || space > at)) {
      if (auto stripped = strip_module_version(file); !stripped.empty()) return stripped;
    }
  }
  return std::string(file);
}

bool starts_with_any(std::string_view s, const std::vector<std::string>& prefixes) noexcept {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return !p.empty() && s.starts_with(p); });
}

// Frames some formats do not print: left out of the signature (the leak site itself always counts).
bool hidden_in_some_format(const NormalizedFrame& normalized) noexcept {
  return normalized.function.starts_with("runtime.") || normalized.function == "panic" ||
         normalized.file == "<autogenerated>";
}

// Wait class of one (normalized) frame, if it names one. `leaf` is true for frames[0].
WaitClass frame_wait_class(std::string_view f, bool leaf) noexcept {
  struct Rule {
    std::string_view prefix;
    WaitClass wait_class;
  };
  static constexpr std::array kRules{
      Rule{"runtime.chansend", WaitClass::chan_send},
      Rule{"runtime.chanrecv", WaitClass::chan_receive},
      Rule{"runtime.selectgo", WaitClass::select},
      Rule{"runtime.semacquire", WaitClass::sync},
      Rule{"sync.runtime_Semacquire", WaitClass::sync},  // also ...Mutex, ...WaitGroup, ...RWMutexR
      Rule{"internal/sync.runtime_Semacquire", WaitClass::sync},
      Rule{"sync.(*Mutex).lockSlow", WaitClass::sync},
      Rule{"internal/sync.(*Mutex).lockSlow", WaitClass::sync},
      Rule{"sync.runtime_notifyListWait", WaitClass::cond},
      Rule{"runtime.notifyListWait", WaitClass::cond},
      Rule{"runtime.netpollblock", WaitClass::io_wait},
      Rule{"internal/poll.runtime_pollWait", WaitClass::io_wait},
      Rule{"time.Sleep", WaitClass::sleep},
  };
  if (f == "runtime.block") return WaitClass::select_no_cases;
  for (const auto& rule : kRules) {
    if (f.starts_with(rule.prefix)) return rule.wait_class;
  }
  if (leaf) {
    // A goroutine in a system call has not parked: the leaf is the syscall entry itself
    // (syscall.Syscall in Go 1.19, runtime/internal/syscall.Syscall6 or internal/runtime/syscall...
    // in newer releases, golang.org/x/sys/unix.Syscall for code using x/sys).
    static constexpr std::array<std::string_view, 4> kSyscallPackages{
        "syscall.", "runtime/internal/syscall.", "internal/runtime/syscall", "golang.org/x/sys/unix."};
    for (const auto p : kSyscallPackages) {
      if (f.starts_with(p)) {
        std::string_view name = f.substr(p.size());
        if (const auto dot = name.rfind('.'); dot != std::string_view::npos) name = name.substr(dot + 1);
        if (name.find("yscall") != std::string_view::npos) return WaitClass::syscall;
      }
    }
  }
  return WaitClass::unknown;
}

// A debug=2 state (wait reason or scheduler status) as a wait class.
WaitClass state_wait_class(std::string_view s) noexcept {
  if (s.starts_with("chan send")) return WaitClass::chan_send;
  if (s.starts_with("chan receive")) return WaitClass::chan_receive;
  if (s.starts_with("select (no cases)")) return WaitClass::select_no_cases;
  if (s.starts_with("select")) return WaitClass::select;
  if (s.starts_with("sync.Cond.Wait")) return WaitClass::cond;
  if (s.starts_with("semacquire") || s.starts_with("sync.Mutex.Lock") || s.starts_with("sync.RWMutex.") ||
      s.starts_with("sync.WaitGroup.Wait")) {
    return WaitClass::sync;
  }
  if (s.starts_with("IO wait")) return WaitClass::io_wait;
  if (s.starts_with("sleep")) return WaitClass::sleep;
  if (s.starts_with("syscall")) return WaitClass::syscall;
  if (s == "running" || s == "runnable") return WaitClass::running;
  return WaitClass::unknown;
}

bool in_app_modules(std::string_view package, const std::vector<std::string>& modules) noexcept {
  if (package == "main") return true;
  return std::any_of(modules.begin(), modules.end(), [&](const std::string& m) {
    return !m.empty() && package.starts_with(m) && (package.size() == m.size() || package[m.size()] == '/');
  });
}

// What classify() needs to know about one distinct printed frame (function, file), worked out once per
// profile: groups share most of their frames (every goroutine of a server passes through the same
// handlers), and normalizing allocates and scans byte by byte, so doing it per group and frame used to
// cost more than parsing the profile.
struct FrameFacts {
  std::string function;  // normalized
  std::string file;      // normalized
  bool unknown = false;  // kUnknownFunction
  bool plumbing = false;
  bool runtime = false;  // normalized function starts with "runtime."
  bool hidden = false;   // hidden_in_some_format
  bool in_app = false;   // in ClassifyOptions::app_modules (by the printed name's package)
  WaitClass wait_leaf = WaitClass::unknown;
  WaitClass wait_inner = WaitClass::unknown;
  std::uint64_t hash = 0;  // FNV-1a of "FUNCTION|FILE|", normalized: the frame's part of signatures
};

// Keyed by identity (hash_view_pair, same_view in string_pool.hpp): frames of one profile view its
// StringPool. Equal strings at two addresses (tests' literals) only cost a second, identical, FrameFacts.
class FrameFactsCache {
 public:
  FrameFactsCache(const std::vector<std::string>& plumbing, const ClassifyOptions& options)
      : plumbing_(plumbing), options_(options), slots_(64) {}

  // The facts of `frame`; the reference stays valid until the cache is destroyed (a deque never moves
  // its elements), and the key views point into the profile's strings, which outlive classify().
  const FrameFacts& facts(const Frame& frame) {
    const std::uint64_t h = hash_view_pair(frame.function, frame.file);
    std::size_t mask = slots_.size() - 1;
    std::size_t i = h & mask;
    for (std::size_t probes = 0; slots_[i].facts != nullptr; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (same_view(s.function, frame.function) && same_view(s.file, frame.file)) {
        return *s.facts;
      }
      if (++probes == kMaxProbes) {
        return make(frame);  // worked out again rather than searched for (a pathological table only)
      }
    }
    FrameFacts& f = make(frame);
    ++indexed_;
    if (2 * indexed_ > slots_.size()) {
      grow();
      mask = slots_.size() - 1;
      for (i = h & mask; slots_[i].facts != nullptr; i = (i + 1) & mask) {
      }
    }
    slots_[i] = Slot{frame.function, frame.file, h, &f};
    return f;
  }

 private:
  struct Slot {
    std::string_view function;
    std::string_view file;
    std::uint64_t hash = 0;
    const FrameFacts* facts = nullptr;  // nullptr: empty
  };

  FrameFacts& make(const Frame& frame) {
    FrameFacts& f = facts_.emplace_back();
    NormalizedFrame normalized = normalize_frame(frame);
    f.hidden = hidden_in_some_format(normalized);
    f.function = std::move(normalized.function);
    f.file = std::move(normalized.file);
    f.unknown = f.function == kUnknownFunction;
    f.plumbing = starts_with_any(f.function, plumbing_);
    f.runtime = f.function.starts_with("runtime.");
    f.in_app = !options_.app_modules.empty() && in_app_modules(package_path(frame.function), options_.app_modules);
    f.wait_leaf = frame_wait_class(f.function, true);
    f.wait_inner = frame_wait_class(f.function, false);
    f.hash = common::fnv1a("|", common::fnv1a(f.file, common::fnv1a("|", common::fnv1a(f.function))));
    return f;
  }

  void grow() {
    std::vector<Slot> slots(slots_.size() * 2);
    const std::size_t mask = slots.size() - 1;
    for (const Slot& s : slots_) {
      if (s.facts == nullptr) continue;
      std::size_t i = s.hash & mask;
      while (slots[i].facts != nullptr) i = (i + 1) & mask;
      slots[i] = s;
    }
    slots_ = std::move(slots);
  }

  static constexpr std::size_t kMaxProbes = 32;

  const std::vector<std::string>& plumbing_;
  const ClassifyOptions& options_;
  std::vector<Slot> slots_;  // open addressing, power-of-two size, at most half full
  std::size_t indexed_ = 0;
  std::deque<FrameFacts> facts_;
};

// One group's frames' facts, looked up on first use: classify() needs the frames up to the leak site
// and `depth` hashed frames past it, often well short of the whole stack.
class GroupFacts {
 public:
  GroupFacts(FrameFactsCache& cache, const std::vector<Frame>& frames) : cache_(cache), frames_(frames) {
    facts_.assign(frames.size(), nullptr);
  }

  std::size_t size() const noexcept { return frames_.size(); }

  const FrameFacts& operator[](std::size_t i) {
    if (facts_[i] == nullptr) {
      facts_[i] = &cache_.facts(frames_[i]);
    }
    return *facts_[i];
  }

 private:
  FrameFactsCache& cache_;
  const std::vector<Frame>& frames_;
  std::vector<const FrameFacts*> facts_;
};

std::size_t find_leak_site(GroupFacts& frames, const ClassifyOptions& options) {
  if (!options.app_modules.empty()) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      if (frames[i].in_app) return i;
    }
  }
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (!frames[i].unknown && !frames[i].plumbing) return i;
  }
  // Stdlib-only stack (e.g. net/http's readLoop of an unclosed response body): its entry function.
  for (std::size_t i = frames.size(); i-- > 0;) {
    if (!frames[i].runtime && !frames[i].unknown) return i;
  }
  return frames.size() == 0 ? 0 : frames.size() - 1;
}

// Each hashed frame contributes its FrameFacts::hash (the normalized name and file, hashed once per
// distinct frame) and its line, chained through mix64 so that order counts: a group costs a few
// multiplies per frame instead of a byte loop over every name it holds.
std::uint64_t hash_frames(GroupFacts& facts, const std::vector<Frame>& frames, std::size_t leak_site,
                          std::size_t depth) {
  std::uint64_t h = common::kFnvOffset;
  std::size_t taken = 0;
  for (std::size_t i = leak_site; i < facts.size() && taken < depth; ++i) {
    const FrameFacts& f = facts[i];
    if (i != leak_site && f.hidden) continue;
    h = common::mix64(h ^ common::mix64(f.hash + frames[i].line));
    ++taken;
  }
  return common::mix64(h ^ taken);
}

void sort_states(std::vector<StateCount>& states) {
  std::sort(states.begin(), states.end(), [](const StateCount& a, const StateCount& b) {
    return a.count != b.count ? a.count > b.count : a.state < b.state;
  });
}

}  // namespace

std::string package_path(std::string_view function) {
  if (function == kUnknownFunction) return {};
  // Type arguments may contain '/' and '.', and "%2e" stands for a dot inside the last path element:
  // split first, decode afterwards.
  const std::string plain = rewrite_function(function, "", false);
  const std::size_t slash = plain.rfind('/');
  const std::size_t dot = plain.find('.', slash == std::string::npos ? 0 : slash);
  if (dot == std::string::npos) return {};
  return rewrite_function(std::string_view(plain).substr(0, dot), "", true);
}

NormalizedFrame normalize_frame(const Frame& frame) {
  NormalizedFrame out;
  out.function = rewrite_function(frame.function, "[...]", true);
  out.file = normalize_file(frame.file, package_path(frame.function));
  out.line = frame.line;
  return out;
}

void classify(Profile& profile, const ClassifyOptions& options) {
  std::vector<std::string> plumbing = default_plumbing_prefixes();
  plumbing.insert(plumbing.end(), options.extra_plumbing_prefixes.begin(), options.extra_plumbing_prefixes.end());
  const std::size_t depth = std::max<std::size_t>(options.depth, 1);

  FrameFactsCache cache(plumbing, options);
  for (auto& group : profile.groups) {
    GroupFacts facts(cache, group.frames);
    group.leak_site = find_leak_site(facts, options);
    group.wait_class = WaitClass::unknown;
    for (std::size_t i = 0; i < facts.size() && i <= group.leak_site; ++i) {
      group.wait_class = i == 0 ? facts[i].wait_leaf : facts[i].wait_inner;
      if (group.wait_class != WaitClass::unknown) break;
    }
    if (group.wait_class == WaitClass::unknown && !group.states.empty()) {
      group.wait_class = state_wait_class(group.states.front().state);
    }
    group.signature = hash_frames(facts, group.frames, group.leak_site, depth);
  }
}

std::string signature_hex(std::uint64_t signature) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out(16, '0');
  for (std::size_t i = 16; i-- > 0; signature >>= 4) out[i] = kDigits[signature & 0xf];
  return out;
}

std::string_view wait_class_name(WaitClass wait_class) noexcept {
  switch (wait_class) {
    case WaitClass::unknown: return "unknown";
    case WaitClass::chan_send: return "chan_send";
    case WaitClass::chan_receive: return "chan_receive";
    case WaitClass::select: return "select";
    case WaitClass::select_no_cases: return "select_no_cases";
    case WaitClass::sync: return "sync";
    case WaitClass::cond: return "cond";
    case WaitClass::io_wait: return "io_wait";
    case WaitClass::sleep: return "sleep";
    case WaitClass::syscall: return "syscall";
    case WaitClass::running: return "running";
  }
  return "unknown";
}

Profile merge_by_signature(Profile profile) {
  std::vector<StackGroup> merged;
  std::vector<std::uint64_t> largest;  // per merged group: the count of the group its frames come from
  std::unordered_map<std::uint64_t, std::size_t> index;
  merged.reserve(profile.groups.size());
  for (auto& group : profile.groups) {
    const auto [it, inserted] = index.try_emplace(group.signature, merged.size());
    if (inserted) {
      largest.push_back(group.count);
      merged.push_back(std::move(group));
      continue;
    }
    StackGroup& into = merged[it->second];
    if (!into.labels.empty()) {
      std::sort(group.labels.begin(), group.labels.end());  // no trust in the parser's order here
      std::erase_if(into.labels,
                    [&](const auto& kv) { return !std::binary_search(group.labels.begin(), group.labels.end(), kv); });
    }
    for (auto& s : group.states) {
      auto same = std::find_if(into.states.begin(), into.states.end(),
                               [&](const StateCount& t) { return t.state == s.state; });
      if (same != into.states.end()) {
        same->count += s.count;
      } else {
        into.states.push_back(std::move(s));
      }
    }
    for (std::size_t b = 0; b < into.wait_minutes.counts.size(); ++b) {
      into.wait_minutes.counts[b] += group.wait_minutes.counts[b];
    }
    into.wait_minutes.max_minutes = std::max(into.wait_minutes.max_minutes, group.wait_minutes.max_minutes);
    for (const std::uint64_t id : group.goroutine_ids) sample_goroutine_id(into.goroutine_ids, id);
    const WaitClass known = into.wait_class != WaitClass::unknown ? into.wait_class : group.wait_class;
    if (group.count > largest[it->second]) {
      largest[it->second] = group.count;
      into.frames = std::move(group.frames);
      into.creator = std::move(group.creator);
      into.leak_site = group.leak_site;
      into.wait_class = group.wait_class;
    }
    if (into.wait_class == WaitClass::unknown) into.wait_class = known;
    into.count += group.count;
  }
  for (auto& g : merged) sort_states(g.states);
  std::sort(merged.begin(), merged.end(), [](const StackGroup& a, const StackGroup& b) {
    return a.count != b.count ? a.count > b.count : a.signature < b.signature;
  });
  profile.groups = std::move(merged);
  return profile;
}

}  // namespace leakwatch::pprof
