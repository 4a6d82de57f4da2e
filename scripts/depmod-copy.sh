#!/usr/bin/env bash
# depmod-copy.sh SERIES — print the root of a depmod'ed copy of a Debian kernel's module tree.
#
# kmod's tools need modules.dep, modules.alias and their .bin forms, which the Debian package
# does not ship (depmod runs at install). The benchmarks run kmod on this copy, side by side
# with ours on the original tree. The copy is hard-linked into
# ${KMODBOOT_CACHE:-$HOME/.cache/kmodboot}/depmod-<release> and reused while its .complete
# marker exists (internal/kmodref makes the same copy for the Go tests). The last line printed
# on stdout is the copy's root, whose lib/modules/<release> holds the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
series=${1:?usage: depmod-copy.sh 6.1|6.12}
cache=${KMODBOOT_CACHE:-$HOME/.cache/kmodboot}
command -v depmod >/dev/null || PATH=$PATH:/sbin:/usr/sbin
command -v depmod >/dev/null || { echo "depmod-copy.sh: depmod not found (apt-get install kmod)" >&2; exit 1; }

dir=$(scripts/fetch-kernel.sh "$series" | tail -n 1)
release=$(ls "$dir/lib/modules")
tree="$dir/lib/modules/$release"
copy="$cache/depmod-$release"
if [ ! -f "$copy/.complete" ]; then
	echo "depmod-copy.sh: making a depmod copy of $tree in $copy" >&2
	rm -rf "$copy"
	mkdir -p "$copy/lib/modules"
	cp -al "$tree" "$copy/lib/modules/" 2>/dev/null || cp -a "$tree" "$copy/lib/modules/"
	depmod -b "$copy" "$release"
	touch "$copy/.complete"
fi
echo "$copy"
