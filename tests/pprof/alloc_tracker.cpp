// Kept in its own translation unit so the compiler cannot inline the replaced operators into callers
// (GCC then reports a false -Wmismatched-new-delete).

#include "alloc_tracker.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LEAKWATCH_ALLOC_TRACKING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LEAKWATCH_ALLOC_TRACKING 0
#endif
#endif
#ifndef LEAKWATCH_ALLOC_TRACKING
#define LEAKWATCH_ALLOC_TRACKING 1
#endif

namespace {
std::atomic<bool> g_tracking{false};
std::atomic<std::size_t> g_largest{0};
}  // namespace

#if LEAKWATCH_ALLOC_TRACKING
// Only the plain forms need replacing: the array and nothrow forms call these by default.
void* operator new(std::size_t size) {
  if (g_tracking.load(std::memory_order_relaxed)) {
    std::size_t seen = g_largest.load(std::memory_order_relaxed);
    while (size > seen && !g_largest.compare_exchange_weak(seen, size, std::memory_order_relaxed)) {
    }
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace leakwatch::pprof::test {

AllocationTracker::AllocationTracker() {
  g_largest.store(0);
  g_tracking.store(true);
}

AllocationTracker::~AllocationTracker() { g_tracking.store(false); }

bool AllocationTracker::available() noexcept { return LEAKWATCH_ALLOC_TRACKING != 0; }

std::size_t AllocationTracker::largest() const noexcept { return g_largest.load(); }

}  // namespace leakwatch::pprof::test
