#!/usr/bin/env bash
# Installs the Debian 12 packages leakwatch needs, from three lists:
#   build   scripts/packages-build.txt   compiling the daemon (the Dockerfile's build stage installs only this)
#   test    scripts/packages-test.txt    the test suite, fuzzing and the format check (scripts/test.sh)
#   bench   scripts/packages-bench.txt   the parser benchmarks (scripts/bench.sh)
#   go      a Go toolchain only: nothing when `go` is on PATH or /usr/local/go/bin/go exists, else golang-go
#
#   scripts/setup.sh [build|test|bench|go|all ...]     the union of the named lists; default: all
#
# test and bench imply go. Installs only the packages that are missing (dpkg-query), runs `apt-get update`
# only when something is missing, and does nothing else, so it can be run again safely. Root, or sudo.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

lists=()
want_go=0
[ $# -gt 0 ] || set -- all
for a in "$@"; do
  case "$a" in
    build) lists+=(build) ;;
    test|bench) lists+=("$a"); want_go=1 ;;
    go) want_go=1 ;;
    all) lists+=(build test bench); want_go=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown list '$a' (build, test, bench, go or all)" >&2; exit 2 ;;
  esac
done

# The union of the lists, each package once, in first-seen order.
packages=()
declare -A seen=()
for l in "${lists[@]}"; do
  while read -r p; do
    [ -n "$p" ] && [ -z "${seen[$p]:-}" ] || continue
    seen[$p]=1
    packages+=("$p")
  done < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/packages-$l.txt")
done
if [ "$want_go" -eq 1 ] && ! command -v go >/dev/null && [ ! -x /usr/local/go/bin/go ] && [ -z "${seen[golang-go]:-}" ]; then
  packages+=(golang-go)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
names=$(IFS=+; echo "${*}")
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup ($names): all ${#packages[@]} packages already installed"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup ($names): installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
