// libFuzzer target: pprof::parse_debug0 (gzip'd or raw profile.proto) on arbitrary bytes, then classify()
// and merge_by_signature() on what it accepts, then pprof::parse() with the detected format.
//
// Mutating gzip bytes almost always breaks the CRC, so the corpus holds the seeds inflated too
// (scripts/fuzz.sh) and the fuzzer mostly explores the protobuf decoder on raw bytes. To keep the gzip
// path honest as well, a raw input is also parsed gzip'd, and both answers must agree.
// Seeds: tests/testdata/pprof/*.debug0.pb.gz (and inflated); dictionary: tests/fuzz/debug0.dict.

#include "fuzz_common.hpp"

#include "leakwatch/common/gzip.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace pprof = leakwatch::pprof;
  namespace common = leakwatch::common;
  const std::string_view bytes{reinterpret_cast<const char*>(data), size};
  leakwatch::fuzz::run(bytes, [](std::string_view b, const pprof::Limits& l) { return pprof::parse_debug0(b, l); });

  if (!bytes.empty() && !common::is_gzip(bytes) && size <= (64u << 10)) {
    const pprof::Limits limits = leakwatch::fuzz::small_limits();
    const auto raw = pprof::parse_debug0(bytes, limits);
    const std::string gz = common::gzip(bytes);
    const auto zipped = pprof::parse_debug0(gz, limits);
    LEAKWATCH_FUZZ_CHECK(raw.has_value() == zipped.has_value());
    if (raw && zipped) {
      LEAKWATCH_FUZZ_CHECK(raw->total == zipped->total);
      LEAKWATCH_FUZZ_CHECK(raw->groups.size() == zipped->groups.size());
      LEAKWATCH_FUZZ_CHECK(raw->truncation_reason == zipped->truncation_reason);
    }
  }
  return 0;
}
