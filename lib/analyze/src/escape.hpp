#pragma once
// Profile text is untrusted (any endpoint can answer, labels hold arbitrary bytes): these make it safe for
// a terminal and valid for JSON.

#include <cstddef>
#include <string>
#include <string_view>

namespace leakwatch::analyze::detail {

// Printable UTF-8 kept; control characters (C0, DEL, C1) and bytes that are not UTF-8 written as
// escapes: \n \t \r \\ as such, other bytes \xNN, C1 code points \u0080..\u009f.
std::string for_terminal(std::string_view text);

// Columns `text` takes on a terminal, counted as code points (good enough for names and paths).
std::size_t display_width(std::string_view text) noexcept;

}  // namespace leakwatch::analyze::detail
