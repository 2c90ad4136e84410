#include "leakwatch/pprof/profile.hpp"

#include <algorithm>
#include <cmath>

namespace leakwatch::pprof {
namespace {

// splitmix64's finalizer: consecutive IDs land far apart, so the sample is spread over the whole group.
std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

bool mixed_less(std::uint64_t a, std::uint64_t b) noexcept { return mix(a) < mix(b); }

}  // namespace

void sample_goroutine_id(std::vector<std::uint64_t>& sample, std::uint64_t id) {
  if (sample.size() < kIdSample) {
    sample.push_back(id);
    std::push_heap(sample.begin(), sample.end(), mixed_less);
    return;
  }
  if (!mixed_less(id, sample.front())) return;  // the heap's front has the largest hash kept
  std::pop_heap(sample.begin(), sample.end(), mixed_less);
  sample.back() = id;
  std::push_heap(sample.begin(), sample.end(), mixed_less);
}

std::uint64_t goroutines_at_or_below(const StackGroup& group, std::uint64_t max_id) noexcept {
  const auto& ids = group.goroutine_ids;
  if (ids.empty()) return 0;
  const auto below = static_cast<double>(std::count_if(ids.begin(), ids.end(),
                                                       [&](std::uint64_t id) { return id <= max_id; }));
  return static_cast<std::uint64_t>(std::llround(below * static_cast<double>(group.count) /
                                                 static_cast<double>(ids.size())));
}

}  // namespace leakwatch::pprof
