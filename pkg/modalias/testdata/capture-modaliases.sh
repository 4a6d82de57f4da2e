#!/usr/bin/env bash
# capture-modaliases.sh — boot Debian's Linux 6.1 in QEMU machines full of devices and print
# every modalias the kernel exposes, as testdata/qemu-modaliases.txt holds them.
#
# Usage: pkg/modalias/testdata/capture-modaliases.sh > pkg/modalias/testdata/qemu-modaliases.txt
#
# The guest is a busybox initramfs that insmods the bus drivers which are modules in Debian
# (virtio_pci, usbcore + xhci/ehci, scsi, libata/ahci, hid) so that devices behind them appear
# too, then prints "<sysfs path> <modalias>" for every device and powers off. Needs
# qemu-system-x86, busybox-static, cpio; runs under TCG (no KVM), about 20 s per machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
kdir=$("$root/scripts/fetch-kernel.sh" 6.1 | tail -n 1)
release=$(ls "$kdir/lib/modules")
mods="$kdir/lib/modules/$release/kernel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/ko" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev"
cp /bin/busybox "$work/rootfs/bin/busybox"
order="virtio/virtio_ring virtio/virtio virtio/virtio_pci_legacy_dev virtio/virtio_pci_modern_dev
virtio/virtio_pci usb/common/usb-common usb/core/usbcore usb/host/xhci-hcd usb/host/xhci-pci
usb/host/ehci-hcd usb/host/ehci-pci scsi/scsi_common scsi/scsi_mod scsi/virtio_scsi ata/libata
ata/libahci ata/ahci hid/hid hid/usbhid/usbhid"
i=0
for m in $order; do
	i=$((i + 1))
	cp "$mods/drivers/$m.ko" "$work/rootfs/ko/$(printf %02d $i)-$(basename "$m").ko"
done
cat > "$work/rootfs/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in /ko/*.ko; do insmod "$m" 2>/dev/null; done
sleep 3
echo CAPTURE-BEGIN
find /sys/devices -name modalias | sort | while read -r f; do
	echo "MODALIAS ${f%/modalias} $(cat "$f")"
done
echo CAPTURE-END
poweroff -f
EOF
chmod +x "$work/rootfs/init"
(cd "$work/rootfs" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$work/initrd.gz")

capture() {
	local name=$1
	shift
	echo "# machine: $name: $*"
	timeout 300 qemu-system-x86_64 -accel tcg -m 1G -nographic -no-reboot \
		-kernel "$kdir/boot/vmlinuz-$release" -initrd "$work/initrd.gz" \
		-append "console=ttyS0 panic=-1 quiet" \
		-netdev user,id=n0,restrict=on "$@" 2>"$work/qemu.err" |
		tr -d '\r' | sed -n '/CAPTURE-BEGIN/,/^CAPTURE-END/p' | awk '$1 == "MODALIAS" {print $3 "\t" $2}' \
		> "$work/out" || true
	if [ ! -s "$work/out" ]; then
		echo "capture-modaliases.sh: machine $name printed no modaliases; qemu said:" >&2
		cat "$work/qemu.err" >&2
		exit 1
	fi
	cat "$work/out"
}

echo "# Real modaliases of QEMU devices under Debian's Linux $release, captured by"
echo "# capture-modaliases.sh. Format: modalias<TAB>sysfs device path."
capture pc-nics -M pc \
	-device virtio-net-pci,netdev=n0,romfile= -device e1000,romfile= -device rtl8139,romfile= \
	-device e1000e,romfile= -device vmxnet3,romfile= -device pcnet,romfile= -device ne2k_pci,romfile= \
	-device i6300esb -device virtio-rng-pci -device virtio-balloon-pci -device pvpanic \
	-audiodev none,id=a0 -device intel-hda -device hda-duplex,audiodev=a0 \
	-device AC97,audiodev=a0 -device ES1370,audiodev=a0
capture q35-storage -M q35 \
	-drive if=none,id=d0,driver=null-co,read-zeroes=on -device virtio-blk-pci,drive=d0 \
	-drive if=none,id=d1,driver=null-co,read-zeroes=on -device nvme,drive=d1,serial=x1 \
	-device virtio-scsi-pci,id=s0 -drive if=none,id=d2,driver=null-co,read-zeroes=on -device scsi-hd,drive=d2,bus=s0.0 \
	-device megasas -device lsi53c895a -device sdhci-pci -device qemu-xhci,id=x0 \
	-device usb-kbd,bus=x0.0 -device usb-tablet,bus=x0.0 \
	-drive if=none,id=d3,driver=null-co,read-zeroes=on -device usb-storage,drive=d3,bus=x0.0 \
	-device usb-ehci,id=e0 -device usb-mouse,bus=e0.0 -device virtio-gpu-pci -device virtio-keyboard-pci \
	-device virtio-serial-pci -audiodev none,id=a0 -device ich9-intel-hda -device hda-output,audiodev=a0 -device ipmi-bmc-sim,id=b0 \
	-device isa-ipmi-kcs,bmc=b0 -device virtio-net-pci,netdev=n0,romfile=
