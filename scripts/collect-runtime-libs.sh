#!/usr/bin/env bash
# Copies the shared libraries BINARY loads (every one `ldd` lists, transitive ones included) into DIR, each
# under the name the loader asks for, except glibc's own (the loader, libc, libm, ...), which every Debian
# image has. The Dockerfile's runtime stage copies DIR instead of installing packages, so the image's
# libraries always match the binary: there is no second package list to keep in step.
#   scripts/collect-runtime-libs.sh BINARY DIR
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 BINARY DIR" >&2; exit 2; fi
bin=$1 out=$2
deps=$(ldd "$bin")
if grep -q 'not found' <<<"$deps"; then
  echo "collect-runtime-libs: $bin has unresolved libraries:" >&2
  grep 'not found' <<<"$deps" >&2
  exit 1
fi
mkdir -p "$out"
n=0
while read -r soname arrow path _; do
  [ "$arrow" = "=>" ] && [ "${path#/}" != "$path" ] || continue
  case "$soname" in
    ld-linux*|libc.so.*|libm.so.*|libmvec.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libresolv.so.*|libutil.so.*|libanl.so.*)
      continue ;;
  esac
  cp -L "$path" "$out/$soname"
  n=$((n + 1))
done <<<"$deps"
echo "collect-runtime-libs: copied $n libraries to $out"
