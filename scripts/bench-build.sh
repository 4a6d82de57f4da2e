#!/usr/bin/env bash
# bench-build.sh — time mkmeta against kmod's depmod on the full Debian 6.1 module tree.
#
# Prints the wall time of `mkmeta` (full tree) and of `depmod -b <copy> <release>` side by
# side and their ratio (goal: mkmeta <= 0.5x depmod), then the size and decode time of the
# meta.pb for the full tree and for the nic+storage subset (proto.Unmarshal and
# modindex.Decode, from BenchmarkDecode in pkg/metabuild).
#
# Uses hyperfine when installed, else repeated timing. depmod runs on a hard-linked copy of the
# tree kept in ${KMODBOOT_CACHE:-$HOME/.cache/kmodboot}/depmod-<release>, so the fetched tree
# stays untouched. Environment: RUNS (default 10), SERIES (default 6.1).
set -euo pipefail
cd "$(dirname "$0")/.."
series=${SERIES:-6.1}
runs=${RUNS:-10}

command -v depmod >/dev/null || PATH=$PATH:/sbin:/usr/sbin
command -v depmod >/dev/null || { echo "bench-build.sh: depmod not found (apt-get install kmod)" >&2; exit 1; }

dir=$(scripts/fetch-kernel.sh "$series" | tail -n 1)
release=$(ls "$dir/lib/modules")
tree="$dir/lib/modules/$release"

copy=$(scripts/depmod-copy.sh "$series" | tail -n 1)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/mkmeta" ./cmds/mkmeta

mk="$tmp/mkmeta -root $dir -r $release -o $tmp/full.pb"
dm="depmod -b $copy $release"
echo "== $release: $(find "$tree" -name '*.ko*' | wc -l) module files, $(nproc) CPUs"

if command -v hyperfine >/dev/null; then
	hyperfine --style basic --warmup 2 --runs "$runs" --export-json "$tmp/h.json" -n mkmeta "$mk" -n depmod "$dm" >&2
	read -r tm td < <(python3 -c '
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print(r["mkmeta"]["mean"], r["depmod"]["mean"])' "$tmp/h.json")
else
	timeit() { # mean wall seconds of RUNS runs after 2 warm-ups
		local i s e
		for i in 1 2; do $1 >/dev/null 2>&1; done
		s=$(date +%s.%N)
		for ((i = 0; i < runs; i++)); do $1 >/dev/null 2>&1; done
		e=$(date +%s.%N)
		python3 -c "print(($e - $s) / $runs)"
	}
	tm=$(timeit "$mk")
	td=$(timeit "$dm")
fi
python3 -c "
tm, td = $tm, $td
print(f'mkmeta {tm*1000:8.1f} ms   depmod {td*1000:8.1f} ms   ratio {tm/td:.2f}x (goal <= 0.50x)')"

$tmp/mkmeta -root "$dir" -r "$release" -class nic,storage -o "$tmp/nic-storage.pb" >/dev/null
$tmp/mkmeta -root "$dir" -r "$release" -o "$tmp/full.pb"
$tmp/mkmeta -root "$dir" -r "$release" -class nic,storage -o "$tmp/nic-storage.pb"
echo "meta.pb sizes: full $(stat -c %s "$tmp/full.pb") bytes, nic+storage $(stat -c %s "$tmp/nic-storage.pb") bytes"
KMODBOOT_BENCH_META="$tmp/full.pb:$tmp/nic-storage.pb" \
	go test -run '^$' -bench '^BenchmarkDecode$' -benchtime 1s ./pkg/metabuild | grep -E '^Benchmark'
