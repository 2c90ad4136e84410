#!/usr/bin/env bash
# Rebuilds the real goroutine dumps in tests/testdata/pprof/ from tests/targets/patterns (Go from PATH,
# stdlib only, no network but loopback):
#   patterns.debug1.txt            /debug/pprof/goroutine?debug=1
#   patterns.debug2.txt            /debug/pprof/goroutine?debug=2
#   patterns.debug0.pb.gz          /debug/pprof/goroutine?debug=0
#   patterns.debug1.truncated.txt  debug1 cut inside its 4th stack group, as a dropped connection leaves it
#   patterns.debug1.crlf.txt       debug1 with CRLF line endings
# The hand-made edge cases next to them are not touched. tests/pprof asserts on exact frames (function,
# file, line) of these dumps, so after editing patterns/main.go or changing Go, rerun this and update the
# tests. Usage: scripts/capture-pprof-testdata.sh [goroutines-per-pattern, default 3]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
targets=$repo/tests/targets
out=$repo/tests/testdata/pprof
per_pattern=${1:-3}

tmp=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The main module's files are recorded as "leakwatch/targets/..." (what -trimpath writes) so the dumps do
# not depend on where the repository is checked out; standard-library files keep their real GOROOT
# paths (/usr/lib/go-1.19/src/...), as in most production binaries.
(cd "$targets" && GOFLAGS=-mod=mod GOPROXY=off GOCACHE=${GOCACHE:-/tmp/gocache} \
  go build "-gcflags=-trimpath=$targets=>leakwatch/targets" -o "$tmp/patterns" ./patterns)

"$tmp/patterns" -listen 127.0.0.1:0 -n "$per_pattern" >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!

# The program prints "listening ADDR" only once every pattern goroutine is parked.
addr=
for _ in $(seq 1 200); do
  addr=$(sed -n 's/^listening //p' "$tmp/stdout")
  [[ -n $addr ]] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$tmp/stderr" >&2
    echo "capture: patterns exited before listening" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z $addr ]]; then
  echo "capture: patterns did not print its address within 20s" >&2
  exit 1
fi
if [[ -s $tmp/stderr ]]; then
  cat "$tmp/stderr" >&2
fi

fetch() {
  curl --fail --silent --show-error --noproxy '*' --max-time 30 \
    -o "$2" "http://$addr/debug/pprof/goroutine?debug=$1"
}
mkdir -p "$out"
fetch 1 "$out/patterns.debug1.txt"
fetch 2 "$out/patterns.debug2.txt"
fetch 0 "$out/patterns.debug0.pb.gz"

kill "$pid"
wait "$pid" 2>/dev/null || true
pid=

# Truncated: everything up to the blank line closing the 3rd group, plus 120 bytes of the 4th (which
# ends inside its quoted labels).
cut=$(LC_ALL=C awk '{ bytes += length($0) + 1 } $0 == "" && ++blank == 3 { print bytes; exit }' \
  "$out/patterns.debug1.txt")
head -c "$((cut + 120))" "$out/patterns.debug1.txt" >"$out/patterns.debug1.truncated.txt"
sed 's/$/\r/' "$out/patterns.debug1.txt" >"$out/patterns.debug1.crlf.txt"

echo "captured from $(go version | cut -d' ' -f3) with -n $per_pattern:"
(cd "$out" && wc -c patterns.*)
