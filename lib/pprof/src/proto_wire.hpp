#pragma once
// A minimal reader for the protocol-buffer wire format (https://protobuf.dev/programming-guides/encoding/),
// enough to decode profile.proto by field number without generated code: varints, tags, and
// length-delimited fields returned as views into the input. Fixed32/64 fields are skipped; groups (wire
// types 3 and 4, unused by profile.proto and deprecated) are rejected, so no input can make a reader
// recurse: nesting is whatever the caller decodes, and the caller's schema is three levels deep.
//
// Every read is bounds-checked against the end of the message being read, varints longer than 10
// bytes or beyond 64 bits are errors, and a length past the end is an error. Errors are reported as
// the byte offset (from the start of the outermost buffer) plus a static description.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace leakwatch::pprof::wire {

enum class WireType : std::uint8_t {
  varint = 0,
  fixed64 = 1,
  length_delimited = 2,
  start_group = 3,
  end_group = 4,
  fixed32 = 5,
};

class Reader {
 public:
  // `base` is the offset of `bytes` in the outermost buffer, for error positions.
  explicit Reader(std::string_view bytes, std::size_t base = 0) noexcept
      : begin_(reinterpret_cast<const std::uint8_t*>(bytes.data())),
        p_(begin_),
        end_(begin_ + bytes.size()),
        base_(base) {}

  bool done() const noexcept { return p_ == end_; }
  // Offset of the next byte in the outermost buffer.
  std::size_t offset() const noexcept { return base_ + static_cast<std::size_t>(p_ - begin_); }
  // What went wrong and where, after a read returned false.
  const char* error() const noexcept { return error_; }
  std::size_t error_offset() const noexcept { return error_offset_; }

  bool read_varint(std::uint64_t& out) noexcept {
    // Fast path: one-byte varints are most of a profile (ids, small counts, string indexes).
    if (p_ != end_ && *p_ < 0x80) {
      out = *p_++;
      return true;
    }
    return read_varint_slow(out);
  }

  // A tag: field number (1 .. 2^29-1) and wire type.
  bool read_tag(std::uint32_t& field, WireType& type) noexcept {
    const std::uint8_t* at = p_;
    std::uint64_t tag = 0;
    if (!read_varint(tag)) {
      return false;
    }
    const std::uint64_t number = tag >> 3;
    if (number == 0 || number > (std::uint64_t{1} << 29) - 1) {
      return fail(at, "invalid field number");
    }
    const auto wire = static_cast<std::uint8_t>(tag & 7);
    if (wire > 5) {
      return fail(at, "invalid wire type");
    }
    field = static_cast<std::uint32_t>(number);
    type = static_cast<WireType>(wire);
    return true;
  }

  // The payload of a length-delimited field (after its tag); `offset` receives its position.
  bool read_bytes(std::string_view& out, std::size_t& offset) noexcept {
    const std::uint8_t* at = p_;
    std::uint64_t length = 0;
    if (!read_varint(length)) {
      return false;
    }
    if (length > static_cast<std::uint64_t>(end_ - p_)) {
      return fail(at, "length runs past the end of its message");
    }
    offset = base_ + static_cast<std::size_t>(p_ - begin_);
    out = std::string_view(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(length));
    p_ += length;
    return true;
  }

  bool read_bytes(std::string_view& out) noexcept {
    std::size_t ignored = 0;
    return read_bytes(out, ignored);
  }

  // Skips the payload of a field with the given wire type (after its tag).
  bool skip(WireType type) noexcept {
    switch (type) {
      case WireType::varint: {
        std::uint64_t ignored = 0;
        return read_varint(ignored);
      }
      case WireType::fixed64: return advance(8);
      case WireType::fixed32: return advance(4);
      case WireType::length_delimited: {
        std::string_view ignored;
        return read_bytes(ignored);
      }
      case WireType::start_group:
      case WireType::end_group: break;
    }
    return fail(p_, "group wire type (3 or 4) is not used by profile.proto");
  }

  // Records an error found by the caller at the current position.
  bool fail(const char* what) noexcept { return fail(p_, what); }

 private:
  bool fail(const std::uint8_t* at, const char* what) noexcept {
    error_ = what;
    error_offset_ = base_ + static_cast<std::size_t>(at - begin_);
    return false;
  }

  bool advance(std::size_t n) noexcept {
    if (n > static_cast<std::size_t>(end_ - p_)) {
      return fail(p_, "fixed-size field runs past the end of its message");
    }
    p_ += n;
    return true;
  }

  bool read_varint_slow(std::uint64_t& out) noexcept {
    const std::uint8_t* at = p_;
    std::uint64_t value = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) {
        return fail(at, "varint runs past the end of its message");
      }
      const std::uint8_t byte = *p_++;
      // The 10th byte holds bit 63 only: anything above it overflows 64 bits.
      if (shift == 63 && byte > 1) {
        return fail(at, "varint overflows 64 bits");
      }
      value |= std::uint64_t{byte & 0x7fu} << shift;
      if (byte < 0x80) {
        out = value;
        return true;
      }
    }
    return fail(at, "varint overflows 64 bits");
  }

  const std::uint8_t* begin_;
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  std::size_t base_;
  const char* error_ = "";
  std::size_t error_offset_ = 0;
};

}  // namespace leakwatch::pprof::wire
