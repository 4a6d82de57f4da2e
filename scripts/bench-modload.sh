#!/usr/bin/env bash
# bench-modload.sh — whole-process modload and modmatch against kmod's modprobe on the full
# Debian 6.1 tree.
#
# Runs, side by side under hyperfine (no shell, warm cache), what modprobe does without touching
# the kernel: `-n` (dry run: resolve, order, check what is loaded) and `--show-depends` (-D), for
# a module name, an alias and a PCI modalias, with kmod's modprobe on a depmod'd copy of the tree
# and modload on meta.pb built from the same tree by mkmeta. Prints each mean and the ratio
# modload/modprobe (goal: <= 1x), and checks that both print the same modules for -D. Also
# `modmatch MODALIAS` against `modprobe -R MODALIAS` (issue 2: a whole-process lookup with the
# full-tree index must beat kmod's). Means are noisy on a shared machine: medians and minimums
# are printed too.
#
# The depmod'd copy is shared with scripts/bench-build.sh:
# ${KMODBOOT_CACHE:-$HOME/.cache/kmodboot}/depmod-<release>. Environment: RUNS (default 300),
# SERIES (default 6.1).
set -euo pipefail
cd "$(dirname "$0")/.."
series=${SERIES:-6.1}
runs=${RUNS:-300}

command -v depmod >/dev/null || PATH=$PATH:/sbin:/usr/sbin
for c in depmod modprobe hyperfine python3; do
	command -v $c >/dev/null || { echo "bench-modload.sh: $c not found (apt-get install kmod hyperfine python3)" >&2; exit 1; }
done

dir=$(scripts/fetch-kernel.sh "$series" | tail -n 1)
release=$(ls "$dir/lib/modules")
tree="$dir/lib/modules/$release"
copy=$(scripts/depmod-copy.sh "$series" | tail -n 1)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/mkmeta" ./cmds/mkmeta
# Built the way a standalone binary goes into an image: stripped, no cgo.
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$tmp/modload" ./cmds/modload
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$tmp/modmatch" ./cmds/modmatch
"$tmp/mkmeta" -root "$copy" -r "$release" -o "$tmp/meta.pb" >&2

kmod="modprobe -d $copy -S $release"
ours="$tmp/modload -d $copy -S $release -meta $tmp/meta.pb"
e1000e=pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00
cases=("-n virtio_net" "-n fs-ext4" "-n $e1000e" "--show-depends ext4" "--show-depends $e1000e")

echo "== $release: $(find "$tree" -name '*.ko*' | wc -l) modules, meta.pb $(stat -c %s "$tmp/meta.pb") bytes," \
	"modload $(stat -c %s "$tmp/modload") bytes, $(nproc) CPUs, $runs runs each"
for c in "${cases[@]}"; do
	# modprobe lists a module again each time a softdep reaches it; compare the sets.
	if ! diff <($kmod $c 2>&1 | sort -u) <($ours $c 2>&1 | sort -u) >"$tmp/diff"; then
		echo "bench-modload.sh: modprobe and modload disagree on '$c':" >&2
		cat "$tmp/diff" >&2
	fi
done

args=()
for c in "${cases[@]}"; do
	args+=(-n "modprobe $c" "$kmod $c" -n "modload $c" "$ours $c")
done
rtl=pci:v000010ECd00008139sv000010ECsd00008139bc02sc00i00
for a in "$rtl" "$e1000e" fs-ext4; do
	if ! diff <($kmod -R "$a" | sort -u) <("$tmp/modmatch" -meta "$tmp/meta.pb" "$a" | sort -u) >"$tmp/diff"; then
		echo "bench-modload.sh: modprobe -R and modmatch disagree on '$a':" >&2
		cat "$tmp/diff" >&2
	fi
	args+=(-n "modprobe -R $a" "$kmod -R $a" -n "modload [modmatch] -R $a" "$tmp/modmatch -meta $tmp/meta.pb $a")
done
hyperfine -N --style basic --warmup 20 --runs "$runs" --export-json "$tmp/h.json" "${args[@]}" >&2

python3 - "$tmp/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print(f'{"case (modload, or modmatch for -R)":<64} {"modprobe mean/median/min":>26} {"ours mean/median/min":>26} {"ratio mean/median":>18}')
for name in [k[len("modprobe "):] for k in r if k.startswith("modprobe ")]:
    k, o = r["modprobe " + name], r["modload " + ("[modmatch] " if name.startswith("-R ") else "") + name]
    fmt = lambda x: f'{x["mean"]*1e3:.2f}/{x["median"]*1e3:.2f}/{x["min"]*1e3:.2f}ms'
    print(f'{name[:64]:<64} {fmt(k):>26} {fmt(o):>26} {o["mean"]/k["mean"]:8.2f}x/{o["median"]/k["median"]:.2f}x')
PY
