#!/usr/bin/env bash
# capture.sh SERIES MACHINE OUT — boot a QEMU machine under capture-fixtures and save what it saw.
#
# SERIES is 6.1 or 6.12 (see scripts/fetch-kernel.sh); MACHINE is "pc" or "q35", each with the NIC
# and disk models coldplug must handle. The image holds busybox and the modules the machine's
# modaliases resolve to (with kmod's modprobe -R on a depmod'ed copy of the tree, closed over
# dependencies); the script boots it again with more modules until no new module is needed.
# OUT receives console.log (the raw console), devices.tsv (stage, devpath, subsystem, driver,
# the driver's module, modalias), uevents.txt (sender pid, sender uid, hex datagram per line),
# modules.txt (/proc/modules at the end), image-modules.txt (the module files in the image) and
# the image's modules.dep and modules.alias (depmod of exactly those files).
#
# This is a developer tool to regenerate pkg/coldplug and pkg/uevent testdata; tests never run it.
set -euo pipefail
series=${1:?usage: capture.sh 6.1|6.12 pc|q35 OUTDIR}
machine=${2:?usage: capture.sh 6.1|6.12 pc|q35 OUTDIR}
out=${3:?usage: capture.sh 6.1|6.12 pc|q35 OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kdir=$("$repo/scripts/fetch-kernel.sh" "$series" | tail -n 1)
rel=$(basename "$kdir"); rel=${rel#kernel-}
cache=${KMODBOOT_CACHE:-$HOME/.cache/kmodboot}
ref="$cache/ref-$rel"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -f "$ref/lib/modules/$rel/modules.dep" ]; then
	echo "capture: building kmod's view of $rel in $ref" >&2
	rm -rf "$ref"; mkdir -p "$ref/lib/modules"
	cp -al "$kdir/lib/modules/$rel" "$ref/lib/modules/$rel"
	depmod -b "$ref" "$rel"
fi

(cd "$repo" && CGO_ENABLED=0 go build -o "$work/init" ./scripts/capture-fixtures)

qemu_devices() {
	truncate -s 16M "$work/d0" "$work/d1" "$work/d2" "$work/d3"
	case "$machine" in
	pc)
		echo -M pc -netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0,romfile=
		echo -netdev user,id=n1,restrict=on -device e1000,netdev=n1,romfile=
		echo -netdev user,id=n2,restrict=on -device rtl8139,netdev=n2,romfile=
		echo -drive file="$work/d0",format=raw,if=none,id=d0 -device virtio-blk-pci,drive=d0
		echo -drive file="$work/d1",format=raw,if=none,id=d1 -device ide-hd,drive=d1,bus=ide.0
		echo -device virtio-rng-pci
		;;
	q35)
		echo -M q35 -netdev user,id=n0,restrict=on -device e1000e,netdev=n0,romfile=
		echo -netdev user,id=n1,restrict=on -device vmxnet3,netdev=n1,romfile=
		echo -netdev user,id=n2,restrict=on -device virtio-net-pci,netdev=n2,romfile=
		echo -drive file="$work/d0",format=raw,if=none,id=d0 -device nvme,drive=d0,serial=kmodboot0
		echo -device virtio-scsi-pci,id=scsi0
		echo -drive file="$work/d1",format=raw,if=none,id=d1 -device scsi-hd,drive=d1,bus=scsi0.0
		echo -drive file="$work/d2",format=raw,if=none,id=d2 -device ide-hd,drive=d2,bus=ide.0
		echo -drive file="$work/d3",format=raw,if=none,id=d3 -device virtio-blk-pci,drive=d3
		;;
	*) echo "capture: unknown machine $machine (want pc or q35)" >&2; exit 2 ;;
	esac
}

: >"$work/modules"
for pass in 1 2 3 4; do
	root="$work/root"; rm -rf "$root"
	mkdir -p "$root/bin" "$root/lib/modules/$rel"
	cp "$work/init" "$root/init"
	cp /bin/busybox "$root/bin/busybox"
	cp "$kdir/lib/modules/$rel"/modules.{builtin,builtin.modinfo,order} "$root/lib/modules/$rel/"
	sort -u "$work/modules" | while read -r m; do
		mkdir -p "$root/lib/modules/$rel/$(dirname "$m")"
		cp "$kdir/lib/modules/$rel/$m" "$root/lib/modules/$rel/$m"
	done
	depmod -b "$root" "$rel"
	(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$work/initrd"
	echo "capture: pass $pass, $(sort -u "$work/modules" | wc -l) modules, booting $machine" >&2
	# shellcheck disable=SC2046
	timeout 300 qemu-system-x86_64 -accel tcg -m 1G -smp 1 -display none -no-reboot \
		-kernel "$kdir/boot/vmlinuz-$rel" -initrd "$work/initrd" \
		-append "console=ttyS0 quiet panic=-1 capture.rounds=6 capture.replug=0000:00:03.0" \
		-serial file:"$out/console.log" $(qemu_devices)
	grep -q CAPTURE-END "$out/console.log" || { echo "capture: no CAPTURE-END in $out/console.log" >&2; exit 1; }
	before=$(sort -u "$work/modules" | wc -l)
	grep '^DEV ' "$out/console.log" | tr -d '\r' | cut -f5 | sort -u | while read -r a; do
		modprobe -d "$ref" -S "$rel" --show-depends "$a" 2>/dev/null |
			awk '$1 == "insmod" { print $2 }' | sed "s|^$ref/lib/modules/$rel/||" >>"$work/modules" || true
	done
	after=$(sort -u "$work/modules" | wc -l)
	[ "$before" = "$after" ] && break
done
tr -d '\r' <"$out/console.log" | grep '^DEV ' | sed 's/^DEV //; s/ /\t/' >"$out/devices.tsv"
tr -d '\r' <"$out/console.log" | grep '^UEVENT ' | sed 's/^UEVENT //' >"$out/uevents.txt"
sort -u "$work/modules" >"$out/image-modules.txt"
tr -d '\r' <"$out/console.log" | grep '^MODULE ' | awk '{ print $2 }' | sort >"$out/modules.txt"
# kmod's view of the image's modules: what a loader resolves the modaliases with.
cp "$root/lib/modules/$rel/modules.dep" "$root/lib/modules/$rel/modules.alias" "$out/"
echo "capture: $(wc -l <"$out/devices.tsv") device lines, $(wc -l <"$out/uevents.txt") uevents in $out" >&2
