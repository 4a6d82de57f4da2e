#!/usr/bin/env bash
# gen.sh regenerates the fixtures in this directory: the first bytes of real filesystem images
# and partitioned disks made by the real tools (e2fsprogs, xfsprogs, btrfs-progs, dosfstools,
# squashfs-tools, fdisk's sfdisk), truncated to what Probe and Partitions read. The expected
# values in probe_test.go were cross-checked with `blkid -p` on the full images.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
keep() { head -c "$2" "$1" >"$3"; }

truncate -s 8M "$tmp/e4" && mkfs.ext4 -q -F -L kmodboot-root -U 6a1f0c52-3d6e-4b8a-9c71-2f5e8d0b4a13 "$tmp/e4"
keep "$tmp/e4" 4096 ext4.img
truncate -s 8M "$tmp/e3" && mkfs.ext3 -q -F -L data3 -U 11111111-2222-3333-4444-555555555555 "$tmp/e3"
keep "$tmp/e3" 4096 ext3.img
truncate -s 8M "$tmp/e2" && mkfs.ext2 -q -F -U 0a0b0c0d-0e0f-1011-1213-141516171819 "$tmp/e2"
keep "$tmp/e2" 4096 ext2-nolabel.img
truncate -s 320M "$tmp/x" && mkfs.xfs -q -f -L xroot -m uuid=9e0d2c1b-5a4f-4e3d-8c2b-1a0f9e8d7c6b "$tmp/x"
keep "$tmp/x" 4096 xfs.img
truncate -s 128M "$tmp/b" && mkfs.btrfs -q -f -L broot -U 2c3d4e5f-6071-4283-94a5-b6c7d8e9f0a1 "$tmp/b" >/dev/null 2>&1
keep "$tmp/b" 69632 btrfs.img
truncate -s 64M "$tmp/v" && mkfs.vfat -F 32 -s 1 -n ESP -i 1234ABCD "$tmp/v" >/dev/null
keep "$tmp/v" 512 vfat32.img
truncate -s 32M "$tmp/v16" && mkfs.vfat -F 16 -i DEADBEEF "$tmp/v16" >/dev/null
keep "$tmp/v16" 512 vfat16-nolabel.img
mkdir "$tmp/sq" && echo hi >"$tmp/sq/f" && mksquashfs "$tmp/sq" "$tmp/s" -quiet -no-progress >/dev/null
keep "$tmp/s" 512 squashfs.img

truncate -s 16M "$tmp/g"
sfdisk -q "$tmp/g" <<'TBL'
label: gpt
label-id: 8F0E4C6A-1B2D-4E3F-A5B6-C7D8E9F0A1B2
start=2048, size=4096, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="EFI system"
start=6144, size=8192, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=5C1E8D2A-7B3F-4A6E-9D0C-1F2E3A4B5C6D, name="kmodboot root"
TBL
keep "$tmp/g" $((34 * 512)) gpt-disk.img
truncate -s 16M "$tmp/m"
sfdisk -q "$tmp/m" <<'TBL'
label: dos
label-id: 0x5eedcafe
start=2048, size=4096, type=83
start=6144, size=8192, type=83
TBL
keep "$tmp/m" 512 mbr-disk.img
head -c 4096 /dev/zero >zero.img
