#include "leakwatch/common/gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <limits>

namespace leakwatch::common {
namespace {

struct Inflater {
  z_stream zs{};
  bool ok = false;
  Inflater() { ok = inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK; }  // 16+: gzip wrapper only
  ~Inflater() {
    if (ok) inflateEnd(&zs);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
};

// zlib counts in uInt; feed it at most this much at a time.
constexpr std::size_t kMaxChunk = std::numeric_limits<uInt>::max();

}  // namespace

InflateResult gunzip(std::string_view in, std::uint64_t limit) {
  InflateResult r;
  auto fail = [&r](InflateStatus status, std::string error, std::size_t produced) {
    r.status = status;
    r.error = std::move(error);
    r.out.resize(produced);
    return std::move(r);
  };
  Inflater inf;
  if (!inf.ok) return fail(InflateStatus::corrupt, "gzip: zlib initialisation failed", 0);

  // Start from a guess (text profiles compress ~3-10x) and grow geometrically, never past the limit.
  const std::uint64_t first = std::max<std::uint64_t>(4096, std::uint64_t{in.size()} * 4);
  r.out.resize(static_cast<std::size_t>(std::min(limit, first)));
  std::size_t produced = 0;
  std::size_t remaining = in.size();
  inf.zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  char probe = 0;
  for (;;) {
    // With the output at the limit, inflate into a one-byte probe: producing anything means too large.
    bool probing = false;
    if (produced == r.out.size()) {
      if (r.out.size() >= limit) {
        probing = true;
      } else {
        r.out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(limit, r.out.size() * 2)));
      }
    }
    if (probing) {
      inf.zs.next_out = reinterpret_cast<Bytef*>(&probe);
      inf.zs.avail_out = 1;
    } else {
      inf.zs.next_out = reinterpret_cast<Bytef*>(r.out.data() + produced);
      inf.zs.avail_out = static_cast<uInt>(std::min<std::size_t>(r.out.size() - produced, kMaxChunk));
    }
    const uInt chunk_in = static_cast<uInt>(std::min<std::size_t>(remaining, kMaxChunk));
    inf.zs.avail_in = chunk_in;
    const uInt out_before = inf.zs.avail_out;
    const int rc = inflate(&inf.zs, Z_NO_FLUSH);
    remaining -= chunk_in - inf.zs.avail_in;
    const std::size_t written = out_before - inf.zs.avail_out;
    if (probing && written > 0) {
      return fail(InflateStatus::too_large, "inflated body exceeds the limit of " + std::to_string(limit) + " bytes",
                  produced);
    }
    if (!probing) produced += written;

    if (rc == Z_STREAM_END) {
      if (remaining == 0) break;
      inflateReset(&inf.zs);  // another gzip member follows
    } else if (rc == Z_BUF_ERROR) {
      // No progress possible: either the output is full (loop grows or probes it) or the input ran out.
      if (inf.zs.avail_out != 0) return fail(InflateStatus::truncated, "gzip: unexpected end of stream", produced);
    } else if (rc != Z_OK) {
      return fail(InflateStatus::corrupt, std::string("gzip: ") + (inf.zs.msg ? inf.zs.msg : "corrupt stream"),
                  produced);
    }
  }
  r.out.resize(produced);
  return r;
}

std::string gzip(std::string_view in) {
  z_stream zs{};
  // Level 1: /metrics bodies are small and served often; speed matters more than the last few percent.
  if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string{};
}

}  // namespace leakwatch::common
