// Parser for debug=0 goroutine profiles: one gzip member around a perftools.profiles.Profile
// (google/pprof proto/profile.proto; docs/goroutine-profiles.md §4), decoded by field number with the small
// wire reader in proto_wire.hpp. tests/bench/debug0_decode_bench.cpp measured it against libprotobuf's
// generated parser; the numbers and the decision are in that file's header.
//
// Fields read (everything else, e.g. mapping, time_nanos, period, is skipped by its wire type):
//   Profile   sample_type=1 {type=1}, sample=2, location=4, function=5, string_table=6
//   Sample    location_id=1 (uint64, packed or not), value=2 (int64, packed or not),
//             label=3 {key=1, str=2, num=3}
//   Location  id=1, line=4 {function_id=1, line=2}
//   Function  id=1, name=2, filename=4
//
// Order of work: the string table is written last, so one pass over the top level only records where
// each record is (views into the inflated buffer); then functions, locations and samples are decoded
// in that order, each resolving its references against the ones before. Strings stay string_views until
// the groups are materialised into Frames at the very end.
//
// Decisions (the header documents the contract, these are the whys):
// - Gzip must be complete: a truncated stream is an error, not a truncated profile, because the string
//   table (all names) and half the records may be in the missing tail. Bytes without the gzip magic are
//   decoded as an already-inflated profile.proto; those carry no CRC, so a raw proto cut after the last
//   string any record uses (e.g. inside the mapping file names) cannot be told from a whole one.
// - Negative counts (delta profiles, ?seconds=N) are an error naming the sample: a delta is not a
//   snapshot, and clamping would silently turn "3 fewer goroutines" into "0 goroutines" for a group a
//   leak detector trends on. Counts above 2^40, and totals above it, are errors too (as in debug=1).
//   A zero count is kept as a group of 0 (Go never writes one).
// - Samples that are equal after symbolization (same frames and labels; debug=0 keys samples by PCs, so
//   two call sites on one line, or stacks differing only beyond max_frames_per_stack, give separate
//   samples) are merged into one group. Groups come in the order of their first sample.
// - Logical frames: each location's lines in order (line[0] the innermost inlined call), leaf location
//   first; a final runtime.goexit is dropped; a location without lines, or a line without a function,
//   is Frame{kUnknownFunction, "", line}, like an unsymbolized debug=1 PC.
// - Leading runtime.* frames are kept (debug=1 hides them; the signature code skips plumbing frames).
// - Labels with a numeric value and no string (Label.num) are not goroutine labels and are skipped.
// - max_groups: a sample that would start a group past the limit is dropped (its goroutines still count
//   in total, which stays the runtime's count); samples of groups already read still merge.
// - Unknown ids and out-of-range string indexes are errors naming the record: a reference to something
//   the profile does not define means the profile is corrupt, and guessing would mislabel a stack. A
//   known field with the wrong wire type is an error too; unknown fields are skipped by wire type.
// - Nesting is the schema's (Profile > Sample/Location > Label/Line): unknown fields are skipped by their
//   length, never descended into, and group wire types are rejected, so no input can recurse.
// - Work is bounded by the input: every sample costs O(its bytes + max_frames_per_stack), and all
//   samples together may expand to at most kFramesPerProtoByte frames per byte of profile.proto (plus a
//   floor). Real profiles stay near 1 frame per byte; only a hostile one (a location with thousands of
//   lines referenced by millions of tiny samples) could otherwise cost seconds and gigabytes.

#include "leakwatch/common/gzip.hpp"
#include "leakwatch/common/hash.hpp"
#include "leakwatch/pprof/parser.hpp"
#include "proto_wire.hpp"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace leakwatch::pprof {
namespace {

using common::Error;
using wire::WireType;

constexpr std::uint64_t kMaxCount = std::uint64_t{1} << 40;
constexpr std::uint64_t kFramesPerProtoByte = 8;
constexpr std::uint64_t kFrameBudgetFloor = std::uint64_t{1} << 20;
constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
constexpr std::string_view kGoexit = "runtime.goexit";

// Profile message field numbers.
constexpr std::uint32_t kProfileSampleType = 1;
constexpr std::uint32_t kProfileSample = 2;
constexpr std::uint32_t kProfileLocation = 4;
constexpr std::uint32_t kProfileFunction = 5;
constexpr std::uint32_t kProfileStringTable = 6;

struct View {
  std::string_view bytes;
  std::size_t offset = 0;  // of bytes[0] in the inflated profile.proto
};

// A frame as decoded: the canonical function (0 = none) in the high half, the line in the low half.
using FrameKey = std::uint64_t;

constexpr FrameKey frame_key(std::uint32_t function, std::uint32_t line) noexcept {
  return (FrameKey{function} << 32) | line;
}
constexpr std::uint32_t key_function(FrameKey key) noexcept { return static_cast<std::uint32_t>(key >> 32); }
constexpr std::uint32_t key_line(FrameKey key) noexcept { return static_cast<std::uint32_t>(key); }

// id -> record index. Go numbers locations and functions 1..N in order, so a vector indexed by id is the
// normal case; sparse ids (other writers, hostile input) fall back to a hash map.
class IdIndex {
 public:
  // Returns the index of the first duplicated id, or kNone. Ids are non-zero (checked by the caller).
  std::uint32_t build(const std::vector<std::uint64_t>& ids) {
    std::uint64_t max = 0;
    for (const std::uint64_t id : ids) {
      max = std::max(max, id);
    }
    dense_ = max <= 2 * std::uint64_t{ids.size()} + 64;
    if (dense_) {
      vector_.assign(static_cast<std::size_t>(max) + 1, kNone);
      for (std::uint32_t i = 0; i < ids.size(); ++i) {
        std::uint32_t& slot = vector_[static_cast<std::size_t>(ids[i])];
        if (slot != kNone) {
          return i;
        }
        slot = i;
      }
    } else {
      map_.reserve(ids.size());
      for (std::uint32_t i = 0; i < ids.size(); ++i) {
        if (!map_.emplace(ids[i], i).second) {
          return i;
        }
      }
    }
    return kNone;
  }

  bool dense() const noexcept { return dense_; }
  std::size_t dense_size() const noexcept { return vector_.size(); }

  std::uint32_t find(std::uint64_t id) const noexcept {
    if (dense_) {
      return id < vector_.size() ? vector_[static_cast<std::size_t>(id)] : kNone;
    }
    const auto it = map_.find(id);
    return it == map_.end() ? kNone : it->second;
  }

 private:
  bool dense_ = true;
  std::vector<std::uint32_t> vector_;
  std::unordered_map<std::uint64_t, std::uint32_t> map_;
};

// Function names and files are interned (StringPool) before functions are compared, so equal pairs
// are equal views (hash_view_pair, same_view).
struct InternedPairHash {
  std::size_t operator()(const std::pair<std::string_view, std::string_view>& p) const noexcept {
    return static_cast<std::size_t>(hash_view_pair(p.first, p.second));
  }
};

struct InternedPairEqual {
  bool operator()(const std::pair<std::string_view, std::string_view>& x,
                  const std::pair<std::string_view, std::string_view>& y) const noexcept {
    return same_view(x.first, y.first) && same_view(x.second, y.second);
  }
};

using LabelView = std::pair<std::string_view, std::string_view>;

// Where a location's frames are in Decoder::frames_, plus its last (root-most) frame, which every
// sample needs for the runtime.goexit check; end == 0 marks an unknown location.
struct LocationFrames {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  FrameKey last = 0;
};

struct Group {
  std::uint64_t hash = 0;
  std::uint64_t count = 0;
  std::uint32_t frames_begin = 0;
  std::uint32_t frames_size = 0;
  std::uint32_t labels_begin = 0;
  std::uint32_t labels_size = 0;
};

std::string field_name(std::string_view message, std::uint32_t field) {
  return std::string{message} + " field " + std::to_string(field);
}

class Decoder {
 public:
  explicit Decoder(const Limits& limits) : limits_(limits) {}

  std::optional<Error> run(std::string_view proto, Profile& profile) {
    // Capped so that frame offsets fit the uint32 fields of Group.
    frame_budget_ = std::min<std::uint64_t>(kFrameBudgetFloor + kFramesPerProtoByte * std::uint64_t{proto.size()},
                                            std::numeric_limits<std::uint32_t>::max());
    if (auto e = scan(proto)) return e;
    if (auto e = decode_kind(profile)) return e;
    if (auto e = decode_functions()) return e;
    if (auto e = decode_locations()) return e;
    if (auto e = decode_samples(profile)) return e;
    materialise(profile);
    return std::nullopt;
  }

 private:
  // ---- errors ----

  static Error wire_error(const wire::Reader& r) {
    return Error{"profile.proto offset " + std::to_string(r.error_offset()) + ": " + r.error()};
  }

  static Error at_error(std::size_t offset, const std::string& what) {
    return Error{"profile.proto offset " + std::to_string(offset) + ": " + what};
  }

  static Error wire_type_error(std::size_t offset, std::string_view message, std::uint32_t field, WireType got) {
    return at_error(offset, field_name(message, field) + " has wire type " + std::to_string(static_cast<int>(got)) +
                                ", not the one profile.proto defines");
  }

  // ---- small field helpers ----

  // Reads the fields of the message `r` holds, calling on_field(field, type, tag_offset) for each. It
  // returns an error or nullopt, reading the fields it knows and handing the others to skip_field().
  template <class OnField>
  static std::optional<Error> for_each_field(wire::Reader& r, OnField&& on_field) {
    while (!r.done()) {
      const std::size_t tag_offset = r.offset();
      std::uint32_t field = 0;
      WireType type{};
      if (!r.read_tag(field, type)) {
        return wire_error(r);
      }
      if (auto e = on_field(field, type, tag_offset)) return e;
    }
    return std::nullopt;
  }

  static std::optional<Error> skip_field(wire::Reader& r, WireType type) {
    if (!r.skip(type)) {
      return wire_error(r);
    }
    return std::nullopt;
  }

  // A message whose fields 1..N are all varints (profile.proto's Function, Line, Label, ValueType):
  // field i goes to *fields[i - 1] (type-checked even when the caller ignores it); later fields are
  // skipped.
  static std::optional<Error> varint_message(wire::Reader& r, std::string_view message,
                                             std::initializer_list<std::uint64_t*> fields) {
    return for_each_field(r, [&](std::uint32_t field, WireType type, std::size_t tag_offset) {
      if (field >= 1 && field <= fields.size()) {
        return varint_field(r, type, message, field, tag_offset, *fields.begin()[field - 1]);
      }
      return skip_field(r, type);
    });
  }

  // A varint field; `tag_offset` is where its tag started.
  static std::optional<Error> varint_field(wire::Reader& r, WireType type, std::string_view message,
                                           std::uint32_t field, std::size_t tag_offset, std::uint64_t& out) {
    if (type != WireType::varint) {
      return wire_type_error(tag_offset, message, field, type);
    }
    if (!r.read_varint(out)) {
      return wire_error(r);
    }
    return std::nullopt;
  }

  // An embedded message (or bytes) field.
  static std::optional<Error> bytes_field(wire::Reader& r, WireType type, std::string_view message, std::uint32_t field,
                                          std::size_t tag_offset, View& out) {
    if (type != WireType::length_delimited) {
      return wire_type_error(tag_offset, message, field, type);
    }
    if (!r.read_bytes(out.bytes, out.offset)) {
      return wire_error(r);
    }
    return std::nullopt;
  }

  // A repeated varint field, packed (length-delimited) or not; calls add(value) per element.
  template <class Add>
  static std::optional<Error> repeated_varint(wire::Reader& r, WireType type, std::string_view message,
                                              std::uint32_t field, std::size_t tag_offset, Add&& add) {
    if (type == WireType::varint) {
      std::uint64_t value = 0;
      if (!r.read_varint(value)) {
        return wire_error(r);
      }
      add(value);
      return std::nullopt;
    }
    if (type != WireType::length_delimited) {
      return wire_type_error(tag_offset, message, field, type);
    }
    View packed;
    if (!r.read_bytes(packed.bytes, packed.offset)) {
      return wire_error(r);
    }
    wire::Reader p(packed.bytes, packed.offset);
    while (!p.done()) {
      std::uint64_t value = 0;
      if (!p.read_varint(value)) {
        return wire_error(p);
      }
      add(value);
    }
    return std::nullopt;
  }

  std::optional<Error> string_at(std::uint64_t index, std::string_view& out, const std::string& who,
                                 std::string_view what) const {
    if (index >= strings_.size()) {
      return Error{who + ": " + std::string{what} + " string index " + std::to_string(index) +
                   " is out of range (the string table has " + std::to_string(strings_.size()) + " entries)"};
    }
    out = strings_[static_cast<std::size_t>(index)];
    return std::nullopt;
  }

  // ---- pass 1: where is everything ----

  std::optional<Error> scan(std::string_view proto) {
    wire::Reader r(proto);
    auto on_field = [&](std::uint32_t field, WireType type, std::size_t tag_offset) -> std::optional<Error> {
      std::vector<View>* records = nullptr;  // none: the string table
      switch (field) {
        case kProfileSampleType: records = &sample_types_; break;
        case kProfileSample: records = &samples_; break;
        case kProfileLocation: records = &locations_; break;
        case kProfileFunction: records = &functions_; break;
        case kProfileStringTable: break;
        default: return skip_field(r, type);
      }
      View view;
      if (auto e = bytes_field(r, type, "Profile", field, tag_offset, view)) return e;
      if (records != nullptr) {
        records->push_back(view);
      } else {
        strings_.push_back(view.bytes);  // raw bytes: Go does not promise UTF-8 in labels
      }
      return std::nullopt;
    };
    if (auto e = for_each_field(r, on_field)) return e;
    if (!strings_.empty() && !strings_.front().empty()) {
      return Error{"profile.proto: string_table[0] must be the empty string"};
    }
    return std::nullopt;
  }

  // ---- pass 2: the records, in dependency order ----

  std::optional<Error> decode_kind(Profile& profile) {
    if (sample_types_.empty()) {
      return Error{"profile.proto has no sample_type: not a goroutine profile"};
    }
    // value[0] is the count, described by sample_type[0].
    const View& view = sample_types_.front();
    wire::Reader r(view.bytes, view.offset);
    std::uint64_t type_index = 0;  // ValueType {type=1, unit=2}
    if (auto e = varint_message(r, "ValueType", {&type_index})) return e;
    std::string_view name;
    if (auto e = string_at(type_index, name, "sample_type[0]", "type")) return e;
    if (name == "goroutine") {
      profile.kind = ProfileKind::goroutine;
    } else if (name == "goroutineleak") {
      profile.kind = ProfileKind::goroutineleak;
    } else {
      std::string shown{name.substr(0, 40)};
      for (char& c : shown) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
      }
      return Error{"profile.proto sample type is \"" + shown +
                   "\", not \"goroutine\" or \"goroutineleak\": not a goroutine profile"};
    }
    return std::nullopt;
  }

  std::optional<Error> decode_functions() {
    std::vector<std::uint64_t> ids;
    ids.reserve(functions_.size());
    function_canon_.reserve(functions_.size());
    // (name, file), interned -> canon
    std::unordered_map<LabelView, std::uint32_t, InternedPairHash, InternedPairEqual> canon_of;
    canon_of.reserve(functions_.size());
    canon_.push_back({kUnknownFunction, {}});  // canon 0: no function
    for (const View& view : functions_) {
      wire::Reader r(view.bytes, view.offset);
      std::uint64_t id = 0;
      std::uint64_t name_index = 0;
      std::uint64_t file_index = 0;
      std::uint64_t ignored = 0;
      // Function {id=1, name=2, system_name=3, filename=4, start_line=5}
      if (auto e = varint_message(r, "Function", {&id, &name_index, &ignored, &file_index, &ignored})) return e;
      if (id == 0) {
        return at_error(view.offset, "function without an id (ids start at 1)");
      }
      std::string_view name;
      std::string_view file;
      if (name_index >= strings_.size() || file_index >= strings_.size()) {
        const std::string who = "function " + std::to_string(id);
        if (auto e = string_at(name_index, name, who, "name")) return e;
        if (auto e = string_at(file_index, file, who, "filename")) return e;
      }
      // Copied into the profile's pool now: the frames will view them once the proto is freed.
      name = names_->intern(strings_[static_cast<std::size_t>(name_index)]);
      file = names_->intern(strings_[static_cast<std::size_t>(file_index)]);
      // Equal (name, file) pairs are one function for grouping, even if a writer repeated them (short of
      // names crafted to collide in the pool's hash, which then only split groups, see StringPool).
      const auto [it, added] = canon_of.emplace(LabelView{name, file}, static_cast<std::uint32_t>(canon_.size()));
      if (added) {
        canon_.push_back({name, file});
        if (name == kGoexit) {
          goexit_canon_ = it->second;
        }
      }
      function_canon_.push_back(it->second);
      ids.push_back(id);
    }
    if (const std::uint32_t dup = functions_index_.build(ids); dup != kNone) {
      return Error{"function " + std::to_string(ids[dup]) + " is defined twice"};
    }
    return std::nullopt;
  }

  std::optional<Error> decode_locations() {
    std::vector<std::pair<std::uint64_t, std::uint32_t>> lines;  // (function id, line) of one location
    std::vector<std::uint64_t> ids;
    ids.reserve(locations_.size());
    location_frames_.reserve(locations_.size());
    frames_.reserve(locations_.size() + locations_.size() / 4);
    for (const View& view : locations_) {
      wire::Reader r(view.bytes, view.offset);
      std::uint64_t id = 0;
      lines.clear();
      auto on_field = [&](std::uint32_t field, WireType type, std::size_t tag_offset) -> std::optional<Error> {
        std::uint64_t ignored = 0;
        switch (field) {
          case 1: return varint_field(r, type, "Location", field, tag_offset, id);
          case 2:  // mapping_id
          case 3:  // address
          case 5:  // is_folded
            return varint_field(r, type, "Location", field, tag_offset, ignored);
          case 4: {
            View line;
            if (auto e = bytes_field(r, type, "Location", field, tag_offset, line)) return e;
            return decode_line(line, lines);
          }
          default: return skip_field(r, type);
        }
      };
      if (auto e = for_each_field(r, on_field)) return e;
      if (id == 0) {
        return at_error(view.offset, "location without an id (ids start at 1)");
      }
      const std::size_t first = frames_.size();
      for (const auto& [function_id, line] : lines) {
        std::uint32_t canon = 0;  // function_id 0: a line without a function
        if (function_id != 0) {
          const std::uint32_t index = functions_index_.find(function_id);
          if (index == kNone) {
            return Error{"location " + std::to_string(id) + ": unknown function id " + std::to_string(function_id)};
          }
          canon = function_canon_[index];
        }
        frames_.push_back(frame_key(canon, line));
      }
      if (lines.empty()) {
        frames_.push_back(frame_key(0, 0));  // no symbol: one unknown frame, as debug=1 shows it
      }
      if (frames_.size() > std::numeric_limits<std::uint32_t>::max() - 1) {
        return Error{"profile.proto has too many location lines"};
      }
      location_frames_.push_back({static_cast<std::uint32_t>(first), static_cast<std::uint32_t>(frames_.size()),
                                  frames_.back()});
      ids.push_back(id);
    }
    if (const std::uint32_t dup = locations_index_.build(ids); dup != kNone) {
      return Error{"location " + std::to_string(ids[dup]) + " is defined twice"};
    }
    // Samples look locations up by id once per frame: with dense ids, map the id straight to its frames.
    if (locations_index_.dense()) {
      location_by_id_.assign(locations_index_.dense_size(), LocationFrames{});
      for (std::size_t i = 0; i < ids.size(); ++i) {
        location_by_id_[static_cast<std::size_t>(ids[i])] = location_frames_[i];
      }
    }
    return std::nullopt;
  }

  // Line {function_id=1, line=2}.
  static std::optional<Error> decode_line(const View& view, std::vector<std::pair<std::uint64_t, std::uint32_t>>& out) {
    wire::Reader r(view.bytes, view.offset);
    std::uint64_t function_id = 0;
    std::uint64_t line = 0;
    if (auto e = varint_message(r, "Line", {&function_id, &line})) return e;
    // int64 on the wire: a negative line is a huge uint64 here and fails this check too.
    if (line > std::numeric_limits<std::uint32_t>::max()) {
      return at_error(view.offset,
                      "line number " + std::to_string(static_cast<std::int64_t>(line)) + " is out of range");
    }
    out.emplace_back(function_id, static_cast<std::uint32_t>(line));
    return std::nullopt;
  }

  std::optional<Error> decode_samples(Profile& profile) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> label_indexes;
    std::vector<LabelView> labels;
    // The current sample's frames are stack[0, depth): a buffer that only grows, written without
    // push_back's checks in the loop that runs once per frame of the profile.
    std::vector<FrameKey> stack(64);
    std::size_t depth = 0;
    // Frames copied per sample: the leaf-most max_frames_per_stack, plus one in case it is a final
    // runtime.goexit that is dropped. Frames beyond it are only counted.
    const std::size_t max_frames = limits_.max_frames_per_stack;
    const std::size_t keep = max_frames == std::numeric_limits<std::size_t>::max() ? max_frames : max_frames + 1;
    std::uint64_t total = 0;
    std::uint64_t frames_used = 0;
    std::uint64_t dropped_samples = 0;
    std::uint64_t dropped_goroutines = 0;
    bool frames_capped = false;
    groups_.reserve(std::min<std::size_t>(samples_.size(), limits_.max_groups));
    table_.assign(table_size_for(std::min<std::size_t>(samples_.size(), limits_.max_groups)), 0);
    // Every location id takes at least a byte and most locations are one frame, so the samples' size is
    // a close upper bound of the frames the groups keep; reserving it spares the copies of regrowth.
    std::size_t sample_bytes = 0;
    for (const View& view : samples_) {
      sample_bytes += view.bytes.size();
    }
    group_frames_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(sample_bytes, frame_budget_)));

    for (std::size_t s = 0; s < samples_.size(); ++s) {
      const View& view = samples_[s];
      const auto who = [&] { return "sample " + std::to_string(s) + " (offset " + std::to_string(view.offset) + ")"; };
      wire::Reader r(view.bytes, view.offset);
      label_indexes.clear();
      depth = 0;
      std::size_t length = 0;  // all frames of the sample, kept or not
      FrameKey last = 0;       // the root-most one
      bool has_unknown_location = false;
      std::uint64_t unknown_location = 0;
      std::uint64_t first_value = 0;
      bool has_value = false;
      // One location id: its frames go straight onto the stack (no per-sample location list). This runs
      // once per frame of the profile; GCC would otherwise keep it out of line.
      const auto add_location = [&](std::uint64_t id) __attribute__((always_inline)) {
        LocationFrames range;
        if (!location_by_id_.empty()) {
          if (id < location_by_id_.size()) {
            range = location_by_id_[static_cast<std::size_t>(id)];
          }
        } else if (const std::uint32_t index = locations_index_.find(id); index != kNone) {
          range = location_frames_[index];
        }
        if (range.end == 0) {
          if (!has_unknown_location) {
            has_unknown_location = true;
            unknown_location = id;
          }
          return;
        }
        const std::size_t n = range.end - range.begin;
        length += n;
        last = range.last;
        const std::size_t take = std::min(n, keep - depth);
        if (take == 0) {
          return;
        }
        if (depth + take > stack.size()) {
          stack.resize(std::max(2 * stack.size(), depth + take));
        }
        if (take == 1) {  // no inlining: most locations
          stack[depth++] = frames_[range.begin];
          return;
        }
        std::copy_n(frames_.begin() + range.begin, take, stack.begin() + static_cast<std::ptrdiff_t>(depth));
        depth += take;
      };
      const auto add_value = [&](std::uint64_t value) {
        if (!has_value) {
          first_value = value;
          has_value = true;
        }
      };
      auto on_field = [&](std::uint32_t field, WireType type, std::size_t tag_offset) -> std::optional<Error> {
        switch (field) {
          case 1: return repeated_varint(r, type, "Sample", field, tag_offset, add_location);
          case 2: return repeated_varint(r, type, "Sample", field, tag_offset, add_value);
          case 3: {
            View label;
            if (auto e = bytes_field(r, type, "Sample", field, tag_offset, label)) return e;
            return decode_label(label, label_indexes);
          }
          default: return skip_field(r, type);
        }
      };
      if (auto e = for_each_field(r, on_field)) return e;
      if (has_unknown_location) {
        return Error{who() + ": unknown location id " + std::to_string(unknown_location)};
      }
      if (!has_value) {
        return Error{who() + ": no value (the goroutine count)"};
      }
      const auto count = static_cast<std::int64_t>(first_value);
      if (count < 0) {
        return Error{who() + ": negative count " + std::to_string(count) +
                     " (a delta profile from ?seconds=N is not a goroutine snapshot)"};
      }
      if (first_value > kMaxCount) {
        return Error{who() + ": count exceeds 2^40"};
      }
      total += first_value;
      if (total > kMaxCount) {
        return Error{who() + ": total goroutine count exceeds 2^40"};
      }

      // Labels: resolve, sort by key (then value, for duplicates) as the model promises.
      labels.clear();
      for (const auto& [key_index, str_index] : label_indexes) {
        if (key_index >= strings_.size() || str_index >= strings_.size()) {
          const bool key_bad = key_index >= strings_.size();
          return Error{who() + ": label " + (key_bad ? "key" : "value") + " string index " +
                       std::to_string(key_bad ? key_index : str_index) + " is out of range (the string table has " +
                       std::to_string(strings_.size()) + " entries)"};
        }
        labels.emplace_back(strings_[static_cast<std::size_t>(key_index)],
                            strings_[static_cast<std::size_t>(str_index)]);
      }
      if (labels.size() > 1) {
        std::sort(labels.begin(), labels.end());
      }

      // Frames: leaf first, without a final runtime.goexit, the leaf-most max_frames_per_stack kept.
      if (length > 0 && goexit_canon_ != 0 && key_function(last) == goexit_canon_) {
        --length;
        if (depth > length) {
          --depth;  // the goexit itself was copied: the whole stack fit
        }
      }
      if (depth > max_frames) {
        depth = max_frames;
      }
      if (length > max_frames && !frames_capped) {
        frames_capped = true;
        add_reason(profile.truncation_reason, who() + " has more than max_frames_per_stack (" +
                                                  std::to_string(max_frames) + ") frames; kept the leaf-most ones");
      }
      frames_used += depth;
      if (frames_used > frame_budget_) {
        return Error{"profile.proto samples expand to more than " + std::to_string(frame_budget_) + " frames (" +
                     std::to_string(kFramesPerProtoByte) +
                     " per byte of profile.proto, plus 2^20): refusing a profile this amplified"};
      }

      if (!add_to_group(std::span<const FrameKey>(stack.data(), depth), labels, first_value)) {
        ++dropped_samples;
        dropped_goroutines += first_value;
      }
    }
    profile.total = total;
    if (dropped_samples > 0) {
      add_reason(profile.truncation_reason, "more than max_groups (" + std::to_string(limits_.max_groups) +
                                                ") distinct stacks: " + std::to_string(dropped_samples) + " samples (" +
                                                std::to_string(dropped_goroutines) + " goroutines) were not kept");
    }
    return std::nullopt;
  }

  // Label {key=1, str=2, num=3, num_unit=4}; numeric labels (num set, no str) are skipped.
  std::optional<Error> decode_label(const View& view, std::vector<std::pair<std::uint64_t, std::uint64_t>>& out) {
    wire::Reader r(view.bytes, view.offset);
    std::uint64_t key = 0;
    std::uint64_t str = 0;
    std::uint64_t num = 0;
    std::uint64_t num_unit = 0;
    if (auto e = varint_message(r, "Label", {&key, &str, &num, &num_unit})) return e;
    if (num != 0 && str == 0) {
      return std::nullopt;
    }
    out.emplace_back(key, str);
    return std::nullopt;
  }

  // ---- grouping ----

  static std::size_t table_size_for(std::size_t groups) {
    std::size_t size = 16;
    while (size < 2 * groups) {
      size *= 2;
    }
    return size;
  }

  std::uint64_t hash_group(std::span<const FrameKey> stack, const std::vector<LabelView>& labels) const {
    // Four independent multiply chains, so the CPU overlaps them; mixed and combined at the end. Equal
    // hashes are compared in full. A xor-multiply chain is easy to steer into a collision when its
    // start is known, and a body of max_groups stacks with one hash would cost max_groups^2 / 2 stack
    // compares: the lanes start from seed_, which the body cannot know.
    constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ull;
    std::uint64_t lanes[4] = {seed_ ^ stack.size(), seed_ + 1, seed_ + 2, seed_ + 3};
    const std::size_t n = stack.size();
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      lanes[0] = (lanes[0] ^ stack[i]) * kMul;
      lanes[1] = (lanes[1] ^ stack[i + 1]) * kMul;
      lanes[2] = (lanes[2] ^ stack[i + 2]) * kMul;
      lanes[3] = (lanes[3] ^ stack[i + 3]) * kMul;
    }
    for (; i < n; ++i) {
      lanes[i & 3] = (lanes[i & 3] ^ stack[i]) * kMul;
    }
    std::uint64_t h = common::mix64(lanes[0]) ^ (common::mix64(lanes[1]) * 3) ^ (common::mix64(lanes[2]) * 5) ^
                      (common::mix64(lanes[3]) * 7);
    for (const auto& [key, value] : labels) {
      h = common::fnv1a(key, h ^ key.size());
      h = common::fnv1a(value, h ^ (value.size() << 1));
    }
    return common::mix64(h);
  }

  bool same_group(const Group& g, std::span<const FrameKey> stack, const std::vector<LabelView>& labels) const {
    return g.frames_size == stack.size() && g.labels_size == labels.size() &&
           std::equal(stack.begin(), stack.end(), group_frames_.begin() + g.frames_begin) &&
           std::equal(labels.begin(), labels.end(), group_labels_.begin() + g.labels_begin);
  }

  // Adds the sample to its group, creating the group if there is room; false if there was none.
  bool add_to_group(std::span<const FrameKey> stack, const std::vector<LabelView>& labels, std::uint64_t count) {
    const std::uint64_t hash = hash_group(stack, labels);
    std::size_t mask = table_.size() - 1;
    std::size_t slot = static_cast<std::size_t>(hash) & mask;
    while (table_[slot] != 0) {
      Group& g = groups_[table_[slot] - 1];
      if (g.hash == hash && same_group(g, stack, labels)) {
        g.count += count;  // both <= total <= 2^40
        return true;
      }
      slot = (slot + 1) & mask;
    }
    if (groups_.size() >= limits_.max_groups) {
      return false;
    }
    Group g;
    g.hash = hash;
    g.count = count;
    g.frames_begin = static_cast<std::uint32_t>(group_frames_.size());
    g.frames_size = static_cast<std::uint32_t>(stack.size());
    g.labels_begin = static_cast<std::uint32_t>(group_labels_.size());
    g.labels_size = static_cast<std::uint32_t>(labels.size());
    group_frames_.insert(group_frames_.end(), stack.begin(), stack.end());
    group_labels_.insert(group_labels_.end(), labels.begin(), labels.end());
    groups_.push_back(g);
    table_[slot] = static_cast<std::uint32_t>(groups_.size());
    if (2 * groups_.size() > table_.size()) {
      rehash();
    }
    return true;
  }

  void rehash() {
    std::vector<std::uint32_t> table(table_.size() * 2, 0);
    const std::size_t mask = table.size() - 1;
    for (std::uint32_t i = 0; i < groups_.size(); ++i) {
      std::size_t slot = static_cast<std::size_t>(groups_[i].hash) & mask;
      while (table[slot] != 0) {
        slot = (slot + 1) & mask;
      }
      table[slot] = i + 1;
    }
    table_ = std::move(table);
  }

  // ---- output ----

  void materialise(Profile& profile) const {
    profile.groups.reserve(groups_.size());
    for (const Group& g : groups_) {
      StackGroup& out = profile.groups.emplace_back();
      out.count = g.count;
      out.frames.reserve(g.frames_size);
      for (std::uint32_t i = 0; i < g.frames_size; ++i) {
        const FrameKey key = group_frames_[g.frames_begin + i];
        const auto& [name, file] = canon_[key_function(key)];
        out.frames.push_back(Frame{name, file, key_line(key)});
      }
      out.labels.reserve(g.labels_size);
      for (std::uint32_t i = 0; i < g.labels_size; ++i) {
        const auto& [key, value] = group_labels_[g.labels_begin + i];
        out.labels.emplace_back(std::string{key}, std::string{value});
      }
    }
    profile.strings = names_;
  }

  static void add_reason(std::string& reasons, std::string_view reason) {
    if (!reasons.empty()) {
      reasons += "; ";
    }
    reasons += reason;
  }

  const Limits& limits_;
  // An address ASLR randomizes (see hash_group); the groups found never depend on it.
  const std::uint64_t seed_ = common::mix64(reinterpret_cast<std::uintptr_t>(this));
  std::uint64_t frame_budget_ = 0;

  // Pass 1.
  std::vector<View> sample_types_;
  std::vector<View> samples_;
  std::vector<View> locations_;
  std::vector<View> functions_;
  std::vector<std::string_view> strings_;

  // Functions: canonical (name, file) pairs, canon 0 = no function; names and files viewing names_.
  std::shared_ptr<StringPool> names_ = std::make_shared<StringPool>();
  std::vector<LabelView> canon_;
  std::vector<std::uint32_t> function_canon_;  // function index -> canon
  IdIndex functions_index_;
  std::uint32_t goexit_canon_ = 0;

  // Locations: their lines as frame keys, [first, second) into frames_.
  std::vector<FrameKey> frames_;
  std::vector<LocationFrames> location_frames_;
  IdIndex locations_index_;
  std::vector<LocationFrames> location_by_id_;  // when ids are dense: id -> frames

  // Groups.
  std::vector<Group> groups_;
  std::vector<FrameKey> group_frames_;
  std::vector<LabelView> group_labels_;
  std::vector<std::uint32_t> table_;  // open addressing: group index + 1, 0 = empty
};

}  // namespace

common::Result<Profile> parse_debug0(std::string_view bytes, const Limits& limits) {
  std::string inflated;
  std::string_view proto = bytes;
  const bool gzipped = common::is_gzip(bytes);
  if (gzipped) {
    common::InflateResult r = common::gunzip(bytes, limits.max_decompressed_bytes);
    switch (r.status) {
      case common::InflateStatus::ok: break;
      case common::InflateStatus::too_large:
        return Error{"gzip: the inflated profile exceeds max_decompressed_bytes (" +
                     std::to_string(limits.max_decompressed_bytes) + ")"};
      case common::InflateStatus::truncated:
        // Nothing of a cut proto can be trusted: the string table, and so every name, comes last.
        return Error{"gzip: the body ends inside the compressed stream (truncated profile)"};
      case common::InflateStatus::corrupt: return Error{r.error};
    }
    inflated = std::move(r.out);
    proto = inflated;
  } else {
    if (bytes.empty()) {
      return Error{"empty body, expected a gzip'd profile.proto"};
    }
    if (bytes.size() > limits.max_decompressed_bytes) {
      return Error{"the profile.proto exceeds max_decompressed_bytes (" +
                   std::to_string(limits.max_decompressed_bytes) + ")"};
    }
  }

  Profile profile;
  Decoder decoder(limits);
  if (auto error = decoder.run(proto, profile)) {
    if (!gzipped) {
      // Probably not a profile at all (an HTML error page, a debug=1 body): say what was tried.
      error->message = "not gzip, and not a raw profile.proto either: " + error->message;
    }
    return std::move(*error);
  }
  return profile;
}

}  // namespace leakwatch::pprof
