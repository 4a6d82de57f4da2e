#!/usr/bin/env bash
# bench-match.sh — time modalias lookups: kmodboot's pkg/modalias next to libkmod.
#
# Part 1 runs pkg/modalias's Go benchmarks (lookup over a corpus generated from Linux 6.1's
# 26,222 alias patterns in testdata, loading and building the table).
# Part 2 runs TestBenchVsKmod: for the real Debian 6.1 and 6.12 trees (fetched and depmod'ed on
# first use, cached in ${KMODBOOT_CACHE:-~/.cache/kmodboot}), it times Normalize+Lookup and
# libkmod's kmod_module_new_from_lookup (tools/kmodref, built with cc -lkmod) on the same
# ~290,000 strings per kernel (a match and near misses per pattern, real QEMU modaliases),
# each string ROUNDS times keeping its fastest run, and prints ours/libkmod ratios of the mean,
# p99 and maximum. Goals: mean <= 0.1x, maximum <= 0.25x libkmod's; with ENFORCE=1 the script
# fails when they are missed.
#
# Needs: Go, cc, libkmod-dev, kmod (depmod), apt access for the kernels. Environment: ROUNDS
# (default 5), BENCHTIME (default 2s), ENFORCE (default 0).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}

echo "== pkg/modalias Go benchmarks (Linux 6.1 patterns from testdata)"
go test ./pkg/modalias -run '^$' -bench 'BenchmarkLookup$|BenchmarkNewTable|BenchmarkBuild' \
	-benchtime "${BENCHTIME:-2s}" -count 1 | grep -E '^Benchmark'

echo
echo "== lookups, kmodboot vs libkmod, real Debian kernels (fastest of $rounds rounds per string)"
out=$(KMODBOOT_BENCH=1 KMODBOOT_BENCH_ROUNDS="$rounds" KMODBOOT_BENCH_ENFORCE="${ENFORCE:-0}" \
	go test ./pkg/modalias -run '^TestBenchVsKmod$' -count 1 -v -timeout 60m 2>&1) || status=$?
# Print the test's log without Go's indentation and file:line prefix.
echo "$out" | sed -n '/ours (ns)/,/^--- /p' | sed '$d' | sed -E 's/^ {8}//'
if [ "${status:-0}" -ne 0 ]; then
	echo "$out" | grep -E '^\s+bench_linux_test.go:[0-9]+: Linux' || true
	echo "bench-match.sh: TestBenchVsKmod failed (exit $status)" >&2
	echo "$out" | tail -20 >&2
	exit "$status"
fi
