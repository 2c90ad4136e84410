#!/usr/bin/env bash
# The demo: a Go service that leaks goroutines slowly, and leakwatch watching it. Installs what it needs (the
# build list and a Go toolchain: scripts/setup.sh build go), builds only the leakwatch binary in a build
# directory of its own (build/demo, tests off: no catch2, python3 or promtool needed), builds the leaking Go
# service with the `go` on PATH (or /usr/local/go/bin/go), starts both on loopback, prints the URLs, and runs
# until Ctrl-C, then stops both.
#
#   scripts/demo.sh                  leak one goroutine every 2 s (a blocked channel send)
#   LEAK_EVERY=500ms LEAK_KIND=mutex scripts/demo.sh
#   WEB_PORT=19863 APP_PORT=16060 scripts/demo.sh     other ports (defaults 9863 and 6060)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${DEMO_BUILD_DIR:-$root/build/demo}
work=$(mktemp -d "${TMPDIR:-/tmp}/leakwatch-demo.XXXXXX")
leak_every=${LEAK_EVERY:-2s}
leak_kind=${LEAK_KIND:-chansend}
web_port=${WEB_PORT:-9863}
app_port=${APP_PORT:-6060}
t0=$SECONDS
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
  echo "demo: stopped"
}
trap cleanup EXIT INT TERM

"$root/scripts/setup.sh" build go
go=$(command -v go || true)
if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go; fi
if [ -z "$go" ]; then
  echo "demo: no Go toolchain (go on PATH or /usr/local/go/bin/go); scripts/setup.sh go installs one" >&2
  exit 1
fi
echo "demo: using $go ($("$go" version))"
echo "demo: building leakwatch (Release, the leakwatch target only) in $build"
LEAKWATCH_CMAKE_ARGS="-DLEAKWATCH_BUILD_TESTS=OFF" "$root/scripts/build.sh" "$build" release leakwatch
# The runtime's own leak proof (the goroutineleak profile): Go 1.27 and later have it, Go 1.26 with an
# experiment. Without it, the service answers 404 there (no emulation in the demo) and only the trend decides.
gover=$(GOTOOLCHAIN=local "$go" env GOVERSION)
experiment=""
leaky_flags=()
case "$gover" in
  go1.26|go1.26.*) experiment=goroutineleakprofile; proof="yes (Go 1.26, GOEXPERIMENT=goroutineleakprofile)" ;;
  go1.2[7-9]*|go1.[3-9]*) proof="yes ($gover)" ;;
  *) leaky_flags=(-no-goroutineleak); proof="no ($gover has no goroutineleak profile): the trend alone decides" ;;
esac
echo "demo: building the leaking Go service"
(cd "$root/tests/targets" && GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off \
  GOEXPERIMENT="$experiment" GOCACHE="$build/gocache" "$go" build -o "$work/leaky" ./leaky)
echo "demo: built in $((SECONDS - t0)) s"

"$work/leaky" -listen "127.0.0.1:$app_port" -leak-every "$leak_every" -kind "$leak_kind" -baseline 20 \
  "${leaky_flags[@]}" >"$work/leaky.out" 2>"$work/leaky.log" &
pids+=($!)
for _ in $(seq 50); do grep -q '^listening' "$work/leaky.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening' "$work/leaky.out" || { echo "demo: the Go service did not start:"; cat "$work/leaky.log"; exit 1; }

cat >"$work/leakwatch.yml" <<YAML
global:
  scrape_interval: 5s
  scrape_timeout: 4s
  # Shortened so the demo fires within minutes (the defaults: a 1 h window, 5 m of evidence, 30 m warm-up).
  detection:
    window: 10m
    min_duration: 1m
    for: 30s
    warmup: 0s
scrape_configs:
  - job_name: demo-app
    format: debug1
    goroutineleak:
      interval: 1m          # the runtime's proof every minute (default 30m: each one is a GC cycle)
    static_configs:
      - targets: ["127.0.0.1:$app_port"]
        labels: {team: demo}
YAML
"$build/daemon/leakwatch" --config.file="$work/leakwatch.yml" --web.listen-address="127.0.0.1:$web_port" &
pids+=($!)

cat <<TEXT

demo: running. A Go service on 127.0.0.1:$app_port leaks a goroutine ($leak_kind) every $leak_every;
      leakwatch polls its goroutine profile every 5 s, and its goroutineleak profile every minute.
      The runtime's proof: $proof.

  leakwatch metrics:     http://127.0.0.1:$web_port/metrics
  health / readiness:    http://127.0.0.1:$web_port/-/healthy   http://127.0.0.1:$web_port/-/ready
  the service's profile: http://127.0.0.1:$app_port/debug/pprof/goroutine?debug=1

  watch the count grow:  watch -n 5 "curl -s 127.0.0.1:$web_port/metrics | grep -E '^leakwatch_(goroutines|stack_alert_state)'"

      With the runtime's proof, the leak's stack alert fires at the first proof that holds a leaked
      goroutine (seconds after the start, or at the next minute): leakwatch logs msg="leak alert"
      state=firing function=main.leakChanSend (or the kind's function) evidence=runtime with its location,
      and leakwatch_stack_alert_state{evidence="runtime"} for that function becomes 2. Without it (or for
      the kinds the runtime cannot prove: waitgroup, ctx, ticker) the trend decides: pending after about
      a minute, firing after about five and a half minutes, with evidence=trend.

Press Ctrl-C to stop both.
TEXT
wait -n "${pids[@]}"
