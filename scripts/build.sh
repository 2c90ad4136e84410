#!/usr/bin/env bash
# Configures and builds leakwatch.
#   scripts/build.sh [BUILD_DIR] [release|asan|tsan|debug] [TARGET...]
# With no TARGET it builds everything (tests included); the Dockerfile builds only the daemon:
#   scripts/build.sh /build release leakwatch
# LEAKWATCH_CMAKE_ARGS adds CMake arguments, e.g. LEAKWATCH_CMAKE_ARGS=-DLEAKWATCH_BUILD_TESTS=OFF (the demo
# and the Dockerfile: then CMake looks for none of the test tools).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build/release}
kind=${2:-release}
targets=("${@:3}")
case "$kind" in
  release) args=(-DCMAKE_BUILD_TYPE=Release) ;;
  debug) args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  asan) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEAKWATCH_SANITIZE=address) ;;
  tsan) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEAKWATCH_SANITIZE=thread) ;;
  *) echo "build.sh: unknown build kind '$kind'" >&2; exit 2 ;;
esac
read -r -a extra <<<"${LEAKWATCH_CMAKE_ARGS:-}"
cmake -S "$root" -B "$dir" -G Ninja "${args[@]}" "${extra[@]}" >/dev/null
if [ ${#targets[@]} -eq 0 ]; then
  cmake --build "$dir" --parallel "$(nproc)"
else
  cmake --build "$dir" --parallel "$(nproc)" --target "${targets[@]}"
fi
