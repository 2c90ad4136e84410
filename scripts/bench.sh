#!/usr/bin/env bash
# Parser benchmarks and their peers on the same real dumps, in the same run, as one table:
#   - builds Release with -DLEAKWATCH_BUILD_BENCHMARKS=ON (parse_bench + the leakwatch binary only),
#   - captures real profiles (tests/targets/bigstacks, Prometheus) into the dump dir (unless already there),
#   - runs parse_bench (tests/bench/parse_bench.cpp: parse_debug{0,1,2}, + classify, gunzip/memchr floors),
#   - runs, each under /usr/bin/time -v (best wall of --runs, largest peak RSS):
#       panicparse FILE.debug2.txt, go tool pprof -raw FILE.debug0.pb.gz, gzip -dc FILE.debug0.pb.gz,
#       leakwatch analyze FILE for each format,
#   - prints the table and the goals (debug1/debug2 >= 1 GB/s on one core, debug0 within 1.3x of gzip
#     inflation, >= 20x faster than panicparse on the same debug=2 file).
#
#   scripts/bench.sh [--build-dir DIR] [--dumps DIR] [--recapture] [--runs N] [--min-time S] [--jobs N]
#
# Dumps: capture-bench-dumps.sh. Defaults: build/bench, build/bench-dumps, 3 runs per peer,
# --benchmark_min_time=1 with 3 repetitions (medians shown). Needs panicparse, golang-go, prometheus,
# time and python3 (scripts/packages-bench.txt; scripts/setup.sh bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/bench
dumps=$root/build/bench-dumps
recapture=0
runs=3
min_time=1
jobs=$(nproc)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --dumps) dumps=$2; shift 2 ;;
    --recapture) recapture=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in panicparse go prometheus python3 /usr/bin/time gzip; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool not found (scripts/setup.sh installs it)" >&2; exit 1; }
done

echo "== build (Release, benchmarks) in $build" >&2
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLEAKWATCH_BUILD_BENCHMARKS=ON \
  -DLEAKWATCH_BUILD_TESTS=OFF "-DLEAKWATCH_BENCH_DUMPS_DIR=$dumps" >/dev/null
if ! cmake --build "$build" --target help | grep -q '^parse_bench:'; then
  echo "bench.sh: no parse_bench target: the top-level CMakeLists.txt must add tests/bench when" \
       "LEAKWATCH_BUILD_BENCHMARKS is ON" >&2
  exit 1
fi
cmake --build "$build" --parallel "$jobs" --target parse_bench leakwatch >&2

names=(goroutines100k stacks2k prometheus)
have_all=1
for n in "${names[@]}"; do
  for f in "$n.debug0.pb.gz" "$n.debug1.txt" "$n.debug2.txt"; do [[ -s $dumps/$f ]] || have_all=0; done
done
if [[ $recapture -eq 1 || $have_all -eq 0 ]]; then
  echo "== capturing dumps into $dumps" >&2
  "$root/scripts/capture-bench-dumps.sh" "$dumps" >&2
fi

out=$build/bench-results
mkdir -p "$out"
echo "== parse_bench (min_time ${min_time}s x 3 repetitions)" >&2
"$build/tests/bench/parse_bench" "$dumps" --benchmark_min_time="$min_time" --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_out="$out/parse_bench.json" \
  --benchmark_out_format=json >"$out/parse_bench.txt" 2>"$out/parse_bench.err" || {
  cat "$out/parse_bench.err" >&2
  exit 1
}

# peer TOOL FILE CMD...: runs CMD (stdout and stderr to /dev/null) $runs times under /usr/bin/time -v and
# appends "FILE<TAB>TOOL<TAB>best wall s<TAB>max peak RSS KiB<TAB>exit status" to peers.tsv.
peers=$out/peers.tsv
: >"$peers"
peer() {
  local tool=$1 file=$2
  shift 2
  local best="" rss=0 status=0 i wall kb rc t0 t1
  echo "== $tool $(basename "$file")" >&2
  for ((i = 0; i < runs; i++)); do
    rc=0
    # Wall time from the clock here (time -v rounds to 10 ms; its own start-up is ~1 ms); RSS from time -v.
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$out/time.txt" "$@" >/dev/null 2>"$out/stderr.txt" || rc=$?
    t1=$(date +%s%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
    kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/time.txt")
    [[ -z $best ]] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }' && best=$wall
    ((kb > rss)) && rss=$kb
    [[ $rc -eq 0 ]] || status=$rc
  done
  [[ $status -eq 0 ]] || { echo "   exit $status: $(head -c 300 "$out/stderr.txt")" >&2; }
  printf '%s\t%s\t%s\t%s\t%s\n' "$(basename "$file")" "$tool" "$best" "$rss" "$status" >>"$peers"
}

for n in "${names[@]}"; do
  peer "gzip -dc" "$dumps/$n.debug0.pb.gz" gzip -dc "$dumps/$n.debug0.pb.gz"
  peer "go tool pprof -raw" "$dumps/$n.debug0.pb.gz" go tool pprof -raw "$dumps/$n.debug0.pb.gz"
  peer "panicparse" "$dumps/$n.debug2.txt" panicparse "$dumps/$n.debug2.txt"
  peer "panicparse -parse=false" "$dumps/$n.debug2.txt" panicparse -parse=false -rebase=false "$dumps/$n.debug2.txt"
  for f in "$n.debug0.pb.gz" "$n.debug1.txt" "$n.debug2.txt"; do
    peer "leakwatch analyze" "$dumps/$f" "$build/daemon/leakwatch" analyze "$dumps/$f"
  done
done

echo >&2
echo "command: scripts/bench.sh $*   ($(nproc) cpus; $(go version | cut -d' ' -f3); panicparse $(dpkg-query -W -f='${Version}' panicparse 2>/dev/null))"
python3 - "$out/parse_bench.json" "$peers" <<'EOF'
import json, sys

bench = json.load(open(sys.argv[1]))
dumps = {}  # file -> {bytes, goroutines, groups, truncated}
for key, value in bench["context"].items():
    if key.startswith("dump:"):
        dumps[key[5:]] = dict(kv.split("=") for kv in value.split())
scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
rows = {}  # (file, tool) -> (seconds, rss_kib or None, note)
for b in bench["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    variant, name = b["run_name"].split("/", 1)
    fmt = variant.rsplit("_", 1)[1] if variant.startswith(("parse_", "classify_", "memchr_lines_", "profile_copy_")) else "debug0"
    file = name + (".debug0.pb.gz" if fmt == "debug0" else "." + fmt + ".txt")
    tool = variant.rsplit("_", 1)[0] if variant != "gunzip" else "gunzip"
    rows[(file, tool)] = (b["cpu_time"] * scale[b["time_unit"]], None, "cpu, in-process")
for line in open(sys.argv[2]):
    file, tool, wall, rss, status = line.rstrip("\n").split("\t")
    rows[(file, tool)] = (float(wall), int(rss), "wall, process" + ("" if status == "0" else f", exit {status}"))

order = ["parse", "classify", "gunzip", "memchr_lines", "gzip -dc", "go tool pprof -raw", "leakwatch analyze",
         "panicparse", "panicparse -parse=false"]
def tool_key(t):
    return order.index(t) if t in order else len(order)

hdr = f"{'file':<28} {'tool':<24} {'time':>10} {'MB/s':>9} {'Mgor/s':>8} {'RSS MiB':>8}  note"
print(hdr)
print("-" * len(hdr))
def fmt_time(s):
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"
for file in sorted(dumps, key=lambda f: (f.split(".")[0], f.split(".")[1])):
    d = dumps[file]
    size, gor = int(d["bytes"]), int(d["goroutines"])
    human = f"{size / 2**20:.2f} MiB" if size >= 2**20 else f"{size / 1024:.1f} KiB"
    print(f"{file:<28} {human}, {gor} goroutines, {d['groups']} groups"
          + (", truncated by Go's 64 MiB cap" if d["truncated"] == "1" else ""))
    fmt = "debug0" if file.endswith(".pb.gz") else file.split(".")[1]
    for (f, tool) in sorted((k for k in rows if k[0] == file), key=lambda k: tool_key(k[1])):
        secs, rss, note = rows[(f, tool)]
        label = {"parse": f"parse_{fmt}", "classify": "parse+classify+merge", "gunzip": "gunzip (floor)",
                 "memchr_lines": "memchr lines (floor)", "profile_copy": "copy of the model (floor)"}.get(tool, tool)
        if tool.startswith("panicparse") and "exit" in note and d["truncated"] == "1":
            note += " (rejects the cut last line)"
        rss_s = f"{rss / 1024:.1f}" if rss is not None else "-"
        print(f"{'':<28} {label:<24} {fmt_time(secs):>10} {size / secs / 1e6:>9.1f} {gor / secs / 1e6:>8.3f} "
              f"{rss_s:>8}  {note}")

print("(MB/s and Mgor/s: bytes of the file as read, gzip'd for debug0, and goroutines, per second of the time shown;"
      "\n in-process rows: median CPU time of parse_bench; process rows: best wall of the runs, largest peak RSS)")
print()
print("goals (issue 3 sets them for the two large dumps; prometheus is a small real service shown for context,")
print("where fixed per-parse costs dominate):")
def verdict(ok):
    return "PASS" if ok else "MISS"
for file in sorted(f for f in dumps if not f.startswith("prometheus.")):
    size = int(dumps[file]["bytes"])
    if file.endswith(".pb.gz"):
        p, g = rows.get((file, "parse")), rows.get((file, "gunzip"))
        if p and g:
            r = p[0] / g[0]
            print(f"  {verdict(r <= 1.3)} {file}: parse_debug0 = {r:.2f}x in-process gunzip (goal <= 1.3x)")
    else:
        p = rows.get((file, "parse"))
        if p:
            gbs = size / p[0] / 1e9
            print(f"  {verdict(gbs >= 1.0)} {file}: parse = {gbs:.2f} GB/s on one core (goal >= 1 GB/s)")
        if file.endswith(".debug2.txt") and p:
            for peer in ("panicparse", "panicparse -parse=false"):
                pp = rows.get((file, peer))
                an = rows.get((file, "leakwatch analyze"))
                if pp:
                    r = pp[0] / p[0]
                    extra = f"; leakwatch analyze (process) {pp[0] / an[0]:.1f}x" if an else ""
                    print(f"  {verdict(r >= 20)} {file}: {peer} wall / parse_debug2 = {r:.1f}x (goal >= 20x){extra}")
EOF
