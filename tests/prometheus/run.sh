#!/bin/sh
# Checks the shipped Prometheus files with promtool (Debian package `prometheus`):
#   1. deploy/prometheus/rules/*.yml pass `promtool check rules` (syntax, PromQL, templates),
#   2. tests/prometheus/*.test.yml pass `promtool test rules` (unit tests of every alert),
#   3. deploy/prometheus/scrape-config.yml passes `promtool check config` (it loads the rules too).
# Usage: tests/prometheus/run.sh [PROMTOOL]. Exits non-zero on the first failure, or when promtool is missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
promtool=${1:-$(command -v promtool || true)}
if [ -z "$promtool" ] || [ ! -x "$promtool" ]; then
  echo "promtool not found: install the Debian package 'prometheus' (scripts/setup.sh does)" >&2
  exit 1
fi

set -x
"$promtool" check rules "$root"/deploy/prometheus/rules/*.yml
# promtool resolves rule_files relative to the test file, so run from anywhere.
"$promtool" test rules "$here"/*.test.yml
"$promtool" check config "$root/deploy/prometheus/scrape-config.yml"
