#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (a separate clang build of lib/common, lib/pprof and the config
# loaders with -fsanitize=fuzzer,address,undefined) and runs each for a while on a corpus seeded from the
# real dumps in tests/testdata/pprof and the configs in config/, tests/testdata/config and tests/testdata/web.
# Exits non-zero on any crash, leak, timeout or out-of-memory, naming the reproducer.
#
#   scripts/fuzz.sh [--seconds N] [--build-dir DIR] [--jobs N] [TARGET...]
#
#   --seconds N      run each target N seconds (default 20)
#   --build-dir DIR  where to build and keep the corpus (default build/fuzz); the corpus grows across runs
#   --jobs N         build parallelism (default: nproc)
#   TARGET           debug0, debug1, debug2, config and/or web_config (default: all five, one after the other)
#
# Reproduce a finding: DIR/fuzz_<target> DIR/artifacts/<target>/crash-... (the script prints the command).
# Needs clang and libclang-rt-14-dev (scripts/packages-test.txt).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=20
dir=$root/build/fuzz
jobs=$(nproc)
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --build-dir) dir=$2; shift 2 ;;
    --build-dir=*) dir=${1#*=}; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    --jobs=*) jobs=${1#*=}; shift ;;
    debug0|debug1|debug2|config|web_config) targets+=("$1"); shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(debug0 debug1 debug2 config web_config)
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "fuzz.sh: --seconds wants a positive integer" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case "$dir/" in
  "$root"/tests/*|"$root"/lib/*|"$root"/scripts/*) echo "fuzz.sh: build dir must not be in the source tree" >&2; exit 2 ;;
esac

echo "== configure + build (clang, fuzzer+address+undefined) in $dir"
CC=clang CXX=clang++ cmake -S "$root/tests/fuzz" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" --parallel "$jobs"

testdata=$root/tests/testdata/pprof
# seed TARGET: fills DIR/seeds/TARGET afresh from the source tree (copies; the tree is never written).
seed() {
  local target=$1 s=$dir/seeds/$1 f
  rm -rf "$s"
  mkdir -p "$s"
  case "$target" in
    debug0)
      for f in "$testdata"/*.debug0.pb.gz; do
        cp "$f" "$s/"
        gzip -dc "$f" >"$s/$(basename "$f" .gz).raw"  # the decoder itself, past the CRC
      done ;;
    debug1) cp "$testdata"/*.debug1*.txt "$s/" ;;
    debug2) cp "$testdata"/*.debug2*.txt "$s/"
            cp "$testdata"/header-only.debug1.txt "$s/" ;;
    config) cp "$root"/tests/testdata/config/*.yml "$root"/config/*.yml "$s/" ;;
    web_config) cp "$root"/tests/testdata/web/*.yml "$s/" ;;
  esac
  cp "$testdata"/empty.txt "$testdata"/garbage.txt "$s/"
}

failed=()
for target in "${targets[@]}"; do
  seed "$target"
  corpus=$dir/corpus/$target
  artifacts=$dir/artifacts/$target
  log=$dir/logs/$target.log
  mkdir -p "$corpus" "$artifacts" "$dir/logs"
  echo "== fuzz_$target for ${seconds}s (corpus $corpus, log $log)"
  rc=0
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$dir/fuzz_$target" "$corpus" "$dir/seeds/$target" \
      -dict="$root/tests/fuzz/$target.dict" \
      -max_len=1048576 -rss_limit_mb=2048 -timeout=10 -max_total_time="$seconds" \
      -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse)' "$log" | tail -1 | sed 's/^/   /' || true
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" | sed 's/^/   /' || true
  if [[ $rc -ne 0 ]]; then
    failed+=("$target")
    echo "!! fuzz_$target failed (exit $rc):"
    grep -E 'ERROR: |SUMMARY: |runtime error:|invariant violated|ALARM|out-of-memory|deadly signal' "$log" | head -5 | sed 's/^/   /' || true
    repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    if [[ -n $repro ]]; then
      echo "   reproducer: $repro"
      echo "   rerun:      $dir/fuzz_$target $repro"
    fi
    echo "   full log:   $log"
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz.sh: ${targets[*]}: no findings in ${seconds}s each"
