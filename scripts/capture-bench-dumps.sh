#!/usr/bin/env bash
# Captures large, real goroutine profiles for the benchmarks (tests/bench) from tests/targets/bigstacks
# (Go from PATH, stdlib only, no network but loopback), in all three formats, into DIR:
#   stacks2k.debug0.pb.gz, stacks2k.debug1.txt, stacks2k.debug2.txt
#       10,000 goroutines on 2,000 distinct stacks (~25 frames each): many groups, big string/location use
#   goroutines100k.debug0.pb.gz, goroutines100k.debug1.txt, goroutines100k.debug2.txt
#       100,000 goroutines in 50 groups: debug=0/1 stay small, debug=2 hits Go's 64 MiB cap and is cut
#       mid-line, exactly as a real big process's dump is
#   prometheus.debug0.pb.gz, prometheus.debug1.txt, prometheus.debug2.txt
#       a real service: Debian's Prometheus server (scripts/packages-bench.txt) scraping itself on loopback,
#       a few dozen goroutines on as many distinct stacks with long module paths
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

# save NAME ADDR: saves the goroutine profile of ADDR as NAME.debug{0,1,2}.* into $out, then stops $pid.
save() {
  local name=$1 addr=$2 debug file
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

# capture NAME ARGS...: runs bigstacks with ARGS and saves its profiles as NAME.
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
  save "$name" "$addr"
}

# capture_prometheus: Prometheus scraping itself for a few seconds (its port picked from the free ones).
capture_prometheus() {
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$tmp/prometheus"
  printf 'global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n' \
    "$port" >"$tmp/prometheus/prometheus.yml"
  prometheus --config.file="$tmp/prometheus/prometheus.yml" --storage.tsdb.path="$tmp/prometheus/data" \
    --web.listen-address="127.0.0.1:$port" >"$tmp/prometheus/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    curl --fail --silent --noproxy '*' --max-time 2 -o /dev/null "http://127.0.0.1:$port/-/ready" && break
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$tmp/prometheus/log" >&2
      echo "capture: prometheus exited before it was ready" >&2
      exit 1
    fi
    sleep 0.1
  done
  sleep 3  # a few scrapes, so its scrape and storage goroutines are all up
  save prometheus "127.0.0.1:$port"
}

capture stacks2k -goroutines 10000 -stacks 2000 -pad 8
capture goroutines100k -goroutines 100000 -stacks 50 -pad 8
capture_prometheus

echo "captured from $(go version | cut -d' ' -f3) and $(prometheus --version 2>&1 | head -1) into $out:"
(cd "$out" && wc -c stacks2k.* goroutines100k.* prometheus.*)
