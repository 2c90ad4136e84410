#pragma once
// Measures the largest single heap allocation made while a tracker is alive, by replacing the global
// operator new of the pprof test binary (alloc_tracker.cpp). Used to prove that oversized input is
// rejected without being copied. Sanitizer runtimes bring their own operator new, so there the
// replacement is compiled out and available() is false.

#include <cstddef>

namespace leakwatch::pprof::test {

class AllocationTracker {
 public:
  AllocationTracker();
  ~AllocationTracker();
  AllocationTracker(const AllocationTracker&) = delete;
  AllocationTracker& operator=(const AllocationTracker&) = delete;

  static bool available() noexcept;
  std::size_t largest() const noexcept;
};

}  // namespace leakwatch::pprof::test
