#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds in Release and runs every test through CTest (unit
# tests, and integration tests against real Go programs), runs each profile parser's libFuzzer target for a
# short, bounded time, then builds and runs the CTest suite again under ASan+UBSan.
#
#   scripts/test.sh                 Release, then ASan+UBSan (what CI runs)
#   scripts/test.sh --sanitize=thread   a TSan build instead of ASan+UBSan
#   scripts/test.sh --no-sanitize   Release only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sanitize=address
for a in "$@"; do
  case "$a" in
    --sanitize=address|--sanitize=thread) sanitize=${a#--sanitize=} ;;
    --no-sanitize) sanitize="" ;;
    *) echo "test.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

"$root/scripts/setup.sh"

run_suite() {
  local dir=$1 kind=$2
  echo "== build ($kind) in $dir"
  local t0=$SECONDS
  "$root/scripts/build.sh" "$dir" "$kind"
  echo "== build ($kind) took $((SECONDS - t0)) s; running tests"
  t0=$SECONDS
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j "$(nproc)")
  echo "== tests ($kind) took $((SECONDS - t0)) s"
}

run_suite "$root/build/release" release
echo "== fuzzing each parser for ${FUZZ_SECONDS:-15} s (clang, libFuzzer + ASan + UBSan)"
"$root/scripts/fuzz.sh" --seconds "${FUZZ_SECONDS:-15}"
case "$sanitize" in
  address) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
             run_suite "$root/build/asan" asan ;;
  thread) TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_suite "$root/build/tsan" tsan ;;
esac
