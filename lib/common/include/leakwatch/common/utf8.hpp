#pragma once
// The one UTF-8 validator. Everything a target sends (function names, file paths, labels, error text) is
// hostile bytes; wherever such text leaves the process as text that must be UTF-8 (a Prometheus label value,
// a JSON log line, the API), it goes through valid_utf8() first. Prometheus' text parser rejects a scrape
// that holds one invalid label value, which would drop every target's series at once.

#include <cstddef>
#include <string>
#include <string_view>

namespace leakwatch::common {

// The length (1..4) of the well-formed UTF-8 sequence at s[i], storing its code point in `cp`; 0 when the
// bytes there are not one (overlong forms, surrogates and values above U+10FFFF included, RFC 3629).
// Requires i < s.size().
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp) noexcept;

bool is_valid_utf8(std::string_view text) noexcept;

// `text` with each byte that does not start a well-formed sequence replaced by U+FFFD. Valid text comes
// back unchanged (and is copied only once).
std::string valid_utf8(std::string_view text);

// Appends valid_utf8(text) to `out`.
void append_valid_utf8(std::string& out, std::string_view text);

}  // namespace leakwatch::common
