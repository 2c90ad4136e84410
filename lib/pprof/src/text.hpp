#pragma once
// Line-oriented helpers the two text parsers (debug1.cpp, debug2.cpp) share: a bounded line reader,
// byte tests, escapes, and error messages that name the line and quote it safely. Internal to
// lib/pprof; everything is inline because it runs once per line or byte of a profile.

#include "leakwatch/common/error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace leakwatch::pprof::text {

using common::Error;

inline constexpr std::size_t kExcerptBytes = 40;

struct Line {
  std::string_view text;    // without '\n', a trailing '\r' and trailing blanks
  std::size_t number = 0;   // 1-based
  bool terminated = false;  // ended in '\n'; an unterminated last line may have been cut anywhere
};

// Splits the body into lines without copying, with memchr. It looks at no more than
// max_line_bytes + 1 bytes per line, so an endless line is rejected after bounded work.
class LineReader {
 public:
  enum class Status { line, end, too_long };

  LineReader(std::string_view bytes, std::size_t max_line_bytes) noexcept
      : data_(bytes.data()), size_(bytes.size()), max_line_bytes_(max_line_bytes) {}

  Status next(Line& line) noexcept {
    if (pos_ == size_) {
      return Status::end;
    }
    ++number_;
    const char* start = data_ + pos_;
    const std::size_t left = size_ - pos_;
    // max_line_bytes_ < left here, so + 1 cannot overflow.
    const std::size_t window = max_line_bytes_ < left ? max_line_bytes_ + 1 : left;
    const void* nl = std::memchr(start, '\n', window);
    std::size_t length = 0;
    if (nl == nullptr) {
      if (left > max_line_bytes_) {
        return Status::too_long;
      }
      length = left;
      pos_ = size_;
      line.terminated = false;
    } else {
      length = static_cast<std::size_t>(static_cast<const char*>(nl) - start);
      pos_ += length + 1;
      line.terminated = true;
    }
    // Go writes no '\r' and no trailing blanks, but bodies that went through other tools may have them.
    while (length > 0 && (start[length - 1] == '\r' || start[length - 1] == ' ' || start[length - 1] == '\t')) {
      --length;
    }
    line.text = std::string_view(start, length);
    line.number = number_;
    return Status::line;
  }

  std::size_t number() const noexcept { return number_; }
  // Offset of the next line's first byte.
  std::size_t position() const noexcept { return pos_; }
  // Moves past `bytes` bytes that hold `lines` whole lines already known to be valid (see BodyCache).
  void skip(std::size_t bytes, std::size_t lines) noexcept {
    pos_ += bytes;
    number_ += lines;
  }

 private:
  const char* data_;
  std::size_t size_;
  std::size_t max_line_bytes_;
  std::size_t pos_ = 0;
  std::size_t number_ = 0;
};

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Hex digits are read once per byte of every PC ('@' lines list up to 128) and offset: one table load
// instead of three range tests. -1 for a byte that is not a hex digit.
inline constexpr std::array<std::int8_t, 256> kHexDigit = [] {
  std::array<std::int8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(hex_value(static_cast<char>(c)));
  }
  return table;
}();

inline int hex_digit(char c) noexcept { return kHexDigit[static_cast<unsigned char>(c)]; }
inline bool is_hex(char c) noexcept { return hex_digit(c) >= 0; }

inline bool consume(std::string_view& s, std::string_view prefix) noexcept {
  if (!s.starts_with(prefix)) {
    return false;
  }
  s.remove_prefix(prefix.size());
  return true;
}

// A short, printable quote of the offending line for error messages (which end up in logs).
inline std::string excerpt(std::string_view text) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text.substr(0, kExcerptBytes)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  out += text.size() > kExcerptBytes ? "\"..." : "\"";
  return out;
}

inline Error line_error(std::size_t number, std::string_view what) {
  return Error{"line " + std::to_string(number) + ": " + std::string{what}};
}

// Takes the line's parts by value: a Line whose address escapes would live in memory, and the hot
// loop would pay a store-forwarding stall for every line it reads.
inline Error expected_error(std::size_t number, std::string_view text, std::string_view what) {
  return Error{"line " + std::to_string(number) + ": expected " + std::string{what} + ", got " + excerpt(text)};
}

inline void add_reason(std::string& reasons, std::string_view reason) {
  if (!reasons.empty()) {
    reasons += "; ";
  }
  reasons += reason;
}

inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Reads `digits` hex digits as a number; false if any is not hex.
inline bool take_hex_digits(std::string_view& s, std::size_t digits, std::uint32_t& out) noexcept {
  if (s.size() < digits) {
    return false;
  }
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    const int h = hex_value(s[i]);
    if (h < 0) {
      return false;
    }
    value = value * 16 + static_cast<std::uint32_t>(h);
  }
  s.remove_prefix(digits);
  out = value;
  return true;
}

// Decodes one Go double-quoted string into raw bytes, reusing out's capacity: the escapes of fmt %q /
// strconv.Quote (debug=1 labels) and the octal ones strconv.Unquote accepts, a superset of what the
// runtime's printquoted writes (debug=2 labels: \n \r \t \\ \" \xNN \uNNNN \UNNNNNNNN). \xNN yields
// that byte even if it is not valid UTF-8, because label values are arbitrary bytes. Returns what is
// wrong, or nullptr.
inline const char* take_quoted(std::string_view& s, std::string& out) {
  if (!consume(s, "\"")) {
    return "expected '\"'";
  }
  out.clear();
  while (true) {
    // Copy the run up to the next quote or backslash in one go. (A plain loop: libstdc++'s
    // find_first_of calls memchr on the set once per byte.)
    std::size_t special = 0;
    while (special < s.size() && s[special] != '"' && s[special] != '\\') {
      ++special;
    }
    if (special == s.size()) {
      return "unterminated quoted string";
    }
    out.append(s.substr(0, special));
    const char c = s[special];
    s.remove_prefix(special + 1);
    if (c == '"') {
      return nullptr;
    }
    if (s.empty()) {
      return "unterminated quoted string";
    }
    const char e = s.front();
    s.remove_prefix(1);
    std::uint32_t value = 0;
    switch (e) {
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case '\'': out += '\''; break;
      case 'x':
        if (!take_hex_digits(s, 2, value)) {
          return "invalid \\x escape";
        }
        out += static_cast<char>(value);
        break;
      case 'u':
      case 'U':
        if (!take_hex_digits(s, e == 'u' ? 4 : 8, value) || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) {
          return "invalid \\u or \\U escape";
        }
        append_utf8(out, value);
        break;
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7': {
        // Exactly three octal digits, at most \377, as in Go.
        value = static_cast<std::uint32_t>(e - '0');
        for (int i = 0; i < 2; ++i) {
          if (s.empty() || s.front() < '0' || s.front() > '7') {
            return "invalid octal escape";
          }
          value = value * 8 + static_cast<std::uint32_t>(s.front() - '0');
          s.remove_prefix(1);
        }
        if (value > 0xff) {
          return "invalid octal escape";
        }
        out += static_cast<char>(value);
        break;
      }
      default: return "unknown escape";
    }
  }
}

}  // namespace leakwatch::pprof::text
