#pragma once
// Shared pieces for Asio coroutines. Only the modules that run coroutines include this.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <string>

namespace leakwatch::common {

// co_await op(..., kNoThrow) yields a tuple (error_code, result...) instead of throwing: network trouble is
// a value here, as everywhere.
inline constexpr auto kNoThrow = boost::asio::as_tuple(boost::asio::use_awaitable);

// What an exception that escaped a coroutine says, for the log line of its co_spawn completion handler
// (nullptr: "no exception"). Every co_spawn gets such a handler; none is `detached`.
std::string describe(std::exception_ptr e);

}  // namespace leakwatch::common
