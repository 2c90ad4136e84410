// libFuzzer target: pprof::parse_debug1 (debug=1 counted stacks) on arbitrary bytes, then classify() and
// merge_by_signature() on what it accepts, then pprof::parse() with the detected format.
// Seeds: tests/testdata/pprof/*.debug1*.txt; dictionary: tests/fuzz/debug1.dict (see scripts/fuzz.sh).

#include "fuzz_common.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace pprof = leakwatch::pprof;
  const std::string_view bytes{reinterpret_cast<const char*>(data), size};
  leakwatch::fuzz::run(bytes, [](std::string_view b, const pprof::Limits& l) { return pprof::parse_debug1(b, l); });
  return 0;
}
