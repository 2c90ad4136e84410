#pragma once
// Expected failures are values, not exceptions: a function that can fail on bad input returns
// Result<T>, whose error carries a short human-readable message (and, for parsers, a position).

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>

namespace leakwatch::common {

struct Error {
  std::string message;

  Error() = default;
  explicit Error(std::string m) : message(std::move(m)) {}
};

inline std::ostream& operator<<(std::ostream& os, const Error& e) { return os << e.message; }

// Called by result<T, Error>::value() when it holds an error; found by ADL.
[[noreturn]] inline void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace leakwatch::common
