#!/usr/bin/env bash
# Records real goroutineleak profiles (reference section 5) into tests/testdata/pprof/, from
# tests/targets/leaky built twice with -trimpath:
#   go1.26.x  the Go on PATH (must be 1.26) with GOEXPERIMENT=goroutineleakprofile
#   go1.27.3  GOTOOLCHAIN=go1.27.3 (downloaded once through the Go module proxy, so GOPROXY must not be off)
# For each version V (as `go env GOVERSION` names it):
#   goroutineleak-V.debug1.txt       /debug/pprof/goroutineleak?debug=1 after the leaks below
#   goroutine-V.debug1.txt           /debug/pprof/goroutine?debug=1 of the same process, right after
#   goroutineleak-V.debug0.pb.gz     /debug/pprof/goroutineleak?debug=0, same process
#   goroutineleak-V.debug2.txt       /debug/pprof/goroutineleak?debug=2, same process, kept only if < 64 KiB
#   goroutineleak-V-none.debug1.txt  goroutineleak?debug=1 of a fresh process that leaked nothing, kept
#                                    only if it is the header "total 0" alone
# The leaks (all through leaky's /leak?n=&kind=&label=): the kinds the runtime proves, chansend 5 (+2 more
# labelled leak=tagged, a second debug=1 group with the same stack), chanrecv 4, select 3 and mutex 2 = 16
# goroutines in 5 groups; and the kinds it cannot prove (blocked on objects reachable from globals or
# the timers), waitgroup 2, ctx 1, ticker 1, which must be in the goroutine profile only. The script fails
# unless each leak profile says exactly "total 16". tests/pprof/goroutineleak_real_test.cpp asserts on
# these numbers: change both together. Loopback only (besides the toolchain download); each program runs
# in the background and is killed by PID.
# Usage: scripts/capture-goroutineleak-testdata.sh   (env GO127=go1.27.N to pick another 1.27 release)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
targets=$repo/tests/targets
out=$repo/tests/testdata/pprof
go127=${GO127:-go1.27.3}
readonly leaks_proved=16 debug2_max=65536

if [[ ${GOPROXY:-} == off ]]; then
  echo "capture: GOPROXY=off, but GOTOOLCHAIN=$go127 has to download that toolchain; unset GOPROXY" >&2
  exit 1
fi
local_version=$(cd "$targets" && GOTOOLCHAIN=local go env GOVERSION)
if [[ $local_version != go1.26.* ]]; then
  echo "capture: the go on PATH is $local_version; GOEXPERIMENT=goroutineleakprofile needs Go 1.26" >&2
  exit 1
fi

tmp=$(mktemp -d)
pid=
stop() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  fi
}
cleanup() {
  stop
  rm -rf "$tmp"
}
trap cleanup EXIT

# build OUTPUT [ENV...]: builds leaky with -trimpath (main module files read
# "leakwatch/targets/leaky/main.go", the standard library's "runtime/chan.go", ...).
build() {
  local output=$1
  shift
  (cd "$targets" && env GOFLAGS=-mod=mod GOTELEMETRY=off "$@" go build -trimpath -o "$output" ./leaky)
}

# start BINARY ARGS...: runs it in the background and sets pid and addr once it prints "listening ADDR".
# Each run gets its own output files: the background shell creates them a moment after the fork, so a
# reused file could still show the previous run's address.
runs=0
start() {
  runs=$((runs + 1))
  local stdout=$tmp/stdout.$runs stderr=$tmp/stderr.$runs
  "$@" -listen 127.0.0.1:0 >"$stdout" 2>"$stderr" &
  pid=$!
  addr=
  for _ in $(seq 1 100); do
    addr=$(sed -n 's/^listening //p' "$stdout" 2>/dev/null || true)
    [[ -n $addr ]] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$stderr" >&2
      echo "capture: $1 exited before listening" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "capture: $1 did not print its address within 10s" >&2
  exit 1
}

# get PATH_AND_QUERY OUTPUT: one HTTP GET to the running program, failing on any non-2xx answer.
get() {
  curl --fail --silent --show-error --noproxy '*' --max-time 30 -D "$tmp/headers" -o "$2" "http://$addr$1"
}

# The endpoint must be the runtime's: leaky marks its emulation (for Go without the profile) with a header.
check_real() {
  if grep -qi '^X-Leaky-Goroutineleak:' "$tmp/headers"; then
    echo "capture: $1 serves leaky's emulation, not the runtime's goroutineleak profile" >&2
    exit 1
  fi
}

# capture VERSION BINARY: records that version's five files.
capture() {
  local v=$1 bin=$2 f
  start "$bin" -kind chansend -baseline 3
  get "/leak?n=5&kind=chansend" /dev/null
  get "/leak?n=2&kind=chansend&label=tagged" /dev/null
  get "/leak?n=4&kind=chanrecv" /dev/null
  get "/leak?n=3&kind=select" /dev/null
  get "/leak?n=2&kind=mutex" /dev/null
  get "/leak?n=2&kind=waitgroup" /dev/null
  get "/leak?n=1&kind=ctx" /dev/null
  get "/leak?n=1&kind=ticker" /dev/null

  get "/debug/pprof/goroutineleak?debug=1" "$out/goroutineleak-$v.debug1.txt"
  check_real "$bin"
  get "/debug/pprof/goroutine?debug=1" "$out/goroutine-$v.debug1.txt"
  get "/debug/pprof/goroutineleak?debug=0" "$out/goroutineleak-$v.debug0.pb.gz"
  check_real "$bin"
  get "/debug/pprof/goroutineleak?debug=2" "$tmp/debug2.txt"
  f=$out/goroutineleak-$v.debug2.txt
  if (($(wc -c <"$tmp/debug2.txt") < debug2_max)); then
    mv "$tmp/debug2.txt" "$f"
  else
    echo "capture: $v debug=2 is $(wc -c <"$tmp/debug2.txt") bytes, not kept" >&2
    rm -f "$f"
  fi
  stop

  local header
  header=$(head -n 1 "$out/goroutineleak-$v.debug1.txt")
  if [[ $header != "goroutineleak profile: total $leaks_proved" ]]; then
    echo "capture: $v: expected 'goroutineleak profile: total $leaks_proved', got '$header'" >&2
    exit 1
  fi
  if [[ $(head -c 2 "$out/goroutineleak-$v.debug0.pb.gz" | od -An -tx1 | tr -d ' ') != 1f8b ]]; then
    echo "capture: $v: goroutineleak?debug=0 is not gzip" >&2
    exit 1
  fi

  # A process that leaked nothing (its healthy workers and HTTP server only).
  start "$bin" -baseline 3
  get "/debug/pprof/goroutineleak?debug=1" "$tmp/none.txt"
  check_real "$bin"
  stop
  f=$out/goroutineleak-$v-none.debug1.txt
  if [[ $(cat "$tmp/none.txt") == "goroutineleak profile: total 0" ]]; then
    mv "$tmp/none.txt" "$f"
  else
    echo "capture: $v: a process without leaks gave '$(head -n 1 "$tmp/none.txt")', not kept" >&2
    rm -f "$f"
  fi
}

mkdir -p "$out"
build "$tmp/leaky-go1.26" GOTOOLCHAIN=local GOEXPERIMENT=goroutineleakprofile
start_fetch=$(date +%s)
v127=$(cd "$targets" && GOTOOLCHAIN=$go127 GOEXPERIMENT= go env GOVERSION)
echo "capture: $go127 toolchain ready after $(($(date +%s) - start_fetch))s"
build "$tmp/leaky-go1.27" GOTOOLCHAIN="$go127" GOEXPERIMENT=

capture "$local_version" "$tmp/leaky-go1.26"
capture "$v127" "$tmp/leaky-go1.27"

echo "captured with $local_version (GOEXPERIMENT=goroutineleakprofile) and $v127:"
(cd "$out" && wc -c goroutineleak-go1.* goroutine-go1.*)
