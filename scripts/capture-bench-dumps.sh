#!/usr/bin/env bash
# Captures large, real goroutine profiles for the benchmarks (tests/bench) from tests/targets/bigstacks
# (Go from PATH, stdlib only, no network but loopback), in all three formats, into DIR:
#   stacks2k.debug0.pb.gz, stacks2k.debug1.txt, stacks2k.debug2.txt
#       10,000 goroutines on 2,000 distinct stacks (~25 frames each): many groups, big string/location use
#   goroutines100k.debug0.pb.gz, goroutines100k.debug1.txt, goroutines100k.debug2.txt
#       100,000 goroutines in 50 groups: debug=0/1 stay small, debug=2 hits Go's 64 MiB cap and is cut
#       mid-line, exactly as a real big process's dump is
# The dumps are big (debug2 up to 64 MiB) and machine-specific, so they live outside the repository
# (e.g. the build directory). Usage: scripts/capture-bench-dumps.sh DIR
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
targets=$repo/tests/targets
mkdir -p "$1"
out=$(cd "$1" && pwd)

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

# Paths of the main module read "leakwatch/targets/..." as with -trimpath (see capture-pprof-testdata.sh).
(cd "$targets" && GOFLAGS=-mod=mod GOPROXY=off GOCACHE=${GOCACHE:-/tmp/gocache} \
  go build "-gcflags=-trimpath=$targets=>leakwatch/targets" -o "$tmp/bigstacks" ./bigstacks)

# capture NAME ARGS...: runs bigstacks with ARGS and saves NAME.debug{0,1,2}.* into $out.
capture() {
  local name=$1
  shift
  "$tmp/bigstacks" -listen 127.0.0.1:0 "$@" >"$tmp/stdout" 2>"$tmp/stderr" &
  pid=$!
  local addr=
  for _ in $(seq 1 1200); do
    addr=$(sed -n 's/^listening //p' "$tmp/stdout")
    [[ -n $addr ]] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$tmp/stderr" >&2
      echo "capture: bigstacks $* exited before listening" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [[ -z $addr ]]; then
    echo "capture: bigstacks $* did not print its address within 120s" >&2
    exit 1
  fi
  local debug file
  for debug in 0 1 2; do
    case $debug in
      0) file=$out/$name.debug0.pb.gz ;;
      *) file=$out/$name.debug$debug.txt ;;
    esac
    curl --fail --silent --show-error --noproxy '*' --max-time 300 \
      -o "$file" "http://$addr/debug/pprof/goroutine?debug=$debug"
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}

capture stacks2k -goroutines 10000 -stacks 2000 -pad 8
capture goroutines100k -goroutines 100000 -stacks 50 -pad 8

echo "captured from $(go version | cut -d' ' -f3) into $out:"
(cd "$out" && wc -c stacks2k.* goroutines100k.*)
