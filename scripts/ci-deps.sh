#!/usr/bin/env bash
# ci-deps.sh — install what building, testing and demoing kmodboot needs on Debian/Ubuntu.
#
# Idempotent: packages already installed are not touched, and `apt-get update` runs only when
# something is missing and the package lists are older than a day (or absent). Run as root or
# with sudo available. Go itself is not installed here (go.mod names the version).
set -euo pipefail

pkgs=(
	qemu-system-x86  # the VM tests and make demo (TCG only)
	kmod             # depmod/modprobe: kmod's view, the conformance reference
	libkmod-dev      # libkmod for the conformance tests' reference
	gcc              # cgo for the libkmod reference
	protobuf-compiler # protoc for go generate ./spec
	zstd             # initramfs compression
	xz-utils         # .ko.xz modules, xz initramfs
	cpio             # inspecting images
	e2fsprogs        # mkfs.ext4 -d for root disks
	busybox-static   # the shell-loop baseline image of the benchmarks
	hyperfine        # benchmarks
	git
	ca-certificates
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "ci-deps.sh: all ${#pkgs[@]} packages present" >&2
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
lists=/var/lib/apt/lists
if [ -z "$(find "$lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
	echo "ci-deps.sh: apt lists are absent or older than a day; running apt-get update" >&2
	$sudo apt-get update -q >&2
fi
echo "ci-deps.sh: installing ${missing[*]}" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
