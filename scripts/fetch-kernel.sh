#!/usr/bin/env bash
# fetch-kernel.sh SERIES — download and unpack the newest Debian kernel of a series, print its dir.
#
# SERIES is 6.1 or 6.12. The package version is resolved with apt-cache at run time (security
# updates replace versions, so none is hard-coded). The result is cached outside the git tree in
# ${KMODBOOT_CACHE:-$HOME/.cache/kmodboot}/kernel-<release>/ with boot/vmlinuz-<release> and
# lib/modules/<release>/. The last line printed on stdout is that directory; progress goes to stderr.
set -euo pipefail
series=${1:?usage: fetch-kernel.sh 6.1|6.12}
cache=${KMODBOOT_CACHE:-$HOME/.cache/kmodboot}
mkdir -p "$cache"

case "$series" in
6.1)  re='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
6.12) re='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
*) echo "fetch-kernel.sh: unknown series $series (want 6.1 or 6.12)" >&2; exit 2 ;;
esac

names() { apt-cache pkgnames linux-image- 2>/dev/null | grep -E "$re" | sort -V; }
pkg=$(names | tail -n 1)
if [ -z "$pkg" ]; then
	echo "fetch-kernel.sh: no $series package in the apt lists; running apt-get update" >&2
	apt-get update >&2
	pkg=$(names | tail -n 1)
fi
if [ -z "$pkg" ]; then
	echo "fetch-kernel.sh: apt-cache knows no package matching $re; is the Debian archive reachable?" >&2
	exit 1
fi
release=${pkg#linux-image-}
release=${release%-unsigned}
dir="$cache/kernel-$release"
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi
echo "fetch-kernel.sh: fetching $pkg into $dir" >&2
tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download "$pkg" >&2)
rm -rf "$dir"
mkdir -p "$dir"
dpkg-deb -x "$tmp"/*.deb "$dir"
test -f "$dir/boot/vmlinuz-$release" || { echo "fetch-kernel.sh: $pkg has no boot/vmlinuz-$release" >&2; exit 1; }
test -d "$dir/lib/modules/$release" || { echo "fetch-kernel.sh: $pkg has no lib/modules/$release" >&2; exit 1; }
touch "$dir/.complete"
echo "$dir"
