#!/usr/bin/env bash
# The test suite. Installs the missing packages of the build and test lists (scripts/setup.sh build test),
# then, in order:
#   1. format     scripts/format.sh --check: clang-format would change nothing
#   2. release    Release build in build/release, every CTest test (unit tests, and integration tests
#                 against real Go programs)
#   3. fuzz       each libFuzzer target (profile parsers, config loaders) for a short, bounded time (FUZZ_SECONDS, 15)
#   4. sanitizer  the CTest suite again in build/asan under ASan+UBSan (or in build/tsan under TSan)
#   5. tsan       a TSan build of only the scrape, exporter and discovery unit tests (the strands, timers
#                 and sockets), in build/tsan, and those tests
# and prints how long each step took.
#
#   scripts/test.sh                     all five steps (what CI runs)
#   scripts/test.sh --sanitize=thread   step 4 under TSan, on the whole suite (step 5 is then part of it)
#   scripts/test.sh --no-sanitize       steps 1-3 only
#   scripts/test.sh --unit              the fast loop: Release build, then `ctest -L unit` only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=address
unit=0
for a in "$@"; do
  case "$a" in
    --sanitize=address|--sanitize=thread) sanitize=${a#--sanitize=} ;;
    --no-sanitize) sanitize="" ;;
    --unit) unit=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

"$root/scripts/setup.sh" build test
# CMake (tests/integration) and the Python tests take `go` from PATH; the Go on these machines is here.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH=/usr/local/go/bin:$PATH; fi

timings=()
# step NAME COMMAND...: runs the command, prints and records its duration; a failure ends the run.
step() {
  local name=$1 t0=$SECONDS
  shift
  echo "== $name"
  "$@" || {
    local rc=$?
    timings+=("$(printf '%-42s %5d s  FAILED' "$name" $((SECONDS - t0)))")
    echo "== $name FAILED after $((SECONDS - t0)) s (exit $rc)"
    summary
    exit "$rc"
  }
  timings+=("$(printf '%-42s %5d s' "$name" $((SECONDS - t0)))")
  echo "== $name took $((SECONDS - t0)) s"
}
summary() {
  echo "== durations"
  printf '   %s\n' "${timings[@]}"
}
ctest_in() {
  local dir=$1
  shift
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@")
}

if [ "$unit" -eq 1 ]; then
  step "build (release)" "$root/scripts/build.sh" "$root/build/release" release
  step "unit tests (release)" ctest_in "$root/build/release" -L unit
  summary
  exit 0
fi

step "format check" "$root/scripts/format.sh" --check
step "build (release)" "$root/scripts/build.sh" "$root/build/release" release
step "tests (release)" ctest_in "$root/build/release"
step "fuzz (${FUZZ_SECONDS:-15} s per target)" "$root/scripts/fuzz.sh" --seconds "${FUZZ_SECONDS:-15}"
case "$sanitize" in
  address)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    step "build (asan)" "$root/scripts/build.sh" "$root/build/asan" asan
    step "tests (asan)" ctest_in "$root/build/asan"
    ;;
  thread)
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    step "build (tsan)" "$root/scripts/build.sh" "$root/build/tsan" tsan
    step "tests (tsan)" ctest_in "$root/build/tsan"
    ;;
esac
if [ "$sanitize" = address ]; then
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  step "build (tsan: scrape, exporter, discovery)" \
    "$root/scripts/build.sh" "$root/build/tsan" tsan scrape_test exporter_test discovery_test
  step "tests (tsan: scrape, exporter, discovery)" ctest_in "$root/build/tsan" -R '^(scrape|exporter|discovery)_test$'
fi
summary
