#!/usr/bin/env bash
# Formats the C++ sources with clang-format 14 (Debian 12's; packages-test.txt) and the repository's
# .clang-format: every *.cpp and *.hpp under lib/, daemon/ and tests/, except tests/scenarios/ and files
# that say they are generated (`@generated` or `DO NOT EDIT` in their first lines).
#
#   scripts/format.sh                 formats those files in place
#   scripts/format.sh --check         changes nothing; lists the files that would change and exits 1 if any
#   scripts/format.sh --check --diff  the same, and prints what would change as a unified diff
#   scripts/format.sh [...] FILE...   only these files
#
# Another clang-format version formats some constructs differently, so the check insists on 14
# (CLANG_FORMAT=/path/to/clang-format overrides which binary runs, not the version check).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=0
diff=0
files=()
for a in "$@"; do
  case "$a" in
    --check) check=1 ;;
    --diff) diff=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "format.sh: unknown argument $a" >&2; exit 2 ;;
    *) files+=("$a") ;;
  esac
done

cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
  for c in clang-format-14 clang-format; do command -v "$c" >/dev/null && { cf=$c; break; }; done
fi
[ -n "$cf" ] || { echo "format.sh: clang-format not found (scripts/setup.sh test installs it)" >&2; exit 2; }
version=$("$cf" --version)
if [[ $version != *"version 14."* ]]; then
  echo "format.sh: $cf is not clang-format 14 ($version); .clang-format is written for Debian 12's 14" >&2
  exit 2
fi

cd "$root"
if [ ${#files[@]} -eq 0 ]; then
  while IFS= read -r -d '' f; do
    head -n 5 "$f" | grep -qE '@generated|DO NOT EDIT' || files+=("$f")
  done < <(find lib daemon tests -path tests/scenarios -prune -o -type f \( -name '*.cpp' -o -name '*.hpp' \) \
             -print0 | sort -z)
fi

if [ "$check" -eq 0 ]; then
  "$cf" -i --style=file "${files[@]}"
  echo "format.sh: formatted ${#files[@]} files"
  exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leakwatch-format.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
changed=()
added=0
removed=0
for f in "${files[@]}"; do
  "$cf" --style=file --assume-filename="$f" <"$f" >"$tmp/out"
  if ! diff -u --label "a/$f" --label "b/$f" "$f" "$tmp/out" >"$tmp/diff"; then
    changed+=("$f")
    [ "$diff" -eq 0 ] || cat "$tmp/diff"
    added=$((added + $(tail -n +3 "$tmp/diff" | grep -c '^+' || true)))
    removed=$((removed + $(tail -n +3 "$tmp/diff" | grep -c '^-' || true)))
  fi
done
if [ ${#changed[@]} -eq 0 ]; then
  echo "format.sh: ${#files[@]} files checked, all formatted"
  exit 0
fi
printf '%s\n' "${changed[@]}"
echo "format.sh: ${#changed[@]} of ${#files[@]} files would change (+$added -$removed lines); run scripts/format.sh" >&2
exit 1
