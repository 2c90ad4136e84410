// libFuzzer target: pprof::parse_debug2 (debug=2 per-goroutine records) on arbitrary bytes, then
// classify() and merge_by_signature() on what it accepts, then pprof::parse() with the detected format.
// Seeds: tests/testdata/pprof/*.debug2*.txt; dictionary: tests/fuzz/debug2.dict (see scripts/fuzz.sh).

#include "fuzz_common.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace pprof = leakwatch::pprof;
  const std::string_view bytes{reinterpret_cast<const char*>(data), size};
  leakwatch::fuzz::run(bytes, [](std::string_view b, const pprof::Limits& l) { return pprof::parse_debug2(b, l); });
  return 0;
}
