#!/usr/bin/env bash
# demo.sh [SERIES] — boot kmodboot's initramfs in QEMU (TCG) and show what it did.
#
# Fetches the Debian kernel of SERIES (default 6.1), builds the default image
# (build/initramfs-SERIES.cpio.zst) unless IMAGE names one, makes a small ext4 root disk whose
# /sbin/init greets and powers off (vmtest/rootinit), and boots a machine with a virtio-net NIC
# and a virtio-blk disk. The whole console goes to build/demo/console.log; the lines that tell
# the story (coldplug's summary, the root found, the DHCP lease, the greeting) are shown at the
# end. Exits non-zero if the new root did not report success.
set -euo pipefail
cd "$(dirname "$0")/.."
series=${1:-6.1}
demo=build/demo
mkdir -p "$demo"

kdir=$(scripts/fetch-kernel.sh "$series" | tail -n 1)
vmlinuz=$(ls "$kdir"/boot/vmlinuz-*)
image=${IMAGE:-build/initramfs-$series.cpio.zst}
if [ ! -f "$image" ]; then
	echo "demo: building $image" >&2
	go run ./cmds/mkinitramfs -kernel "$kdir" -o "$image"
fi

echo "demo: making the root disk $demo/root.img" >&2
rm -rf "$demo/tree" && mkdir -p "$demo"/tree/{sbin,etc/kmodboot,dev,proc,sys,run,tmp}
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$demo/tree/sbin/init" ./vmtest/rootinit
cat >"$demo/tree/etc/kmodboot/expect" <<'EXP'
id demo
ipv4 1
say Hello from the new root! kmodboot loaded the drivers, found LABEL=kmodboot-demo and switched to it.
EXP
rm -f "$demo/root.img"
mkfs.ext4 -q -F -L kmodboot-demo -d "$demo/tree" "$demo/root.img" 32M

echo "demo: booting $(basename "$vmlinuz") with $image (TCG; about 20 s)" >&2
start=$(date +%s.%N)
timeout 300 qemu-system-x86_64 -accel tcg -cpu max -m 1G -machine pc -nodefaults -nographic \
	-serial mon:stdio -no-reboot \
	-kernel "$vmlinuz" -initrd "$image" \
	-append "console=ttyS0 quiet panic=-1 root=LABEL=kmodboot-demo rootwait=30 ip=dhcp" \
	-netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0,romfile= \
	-drive if=none,id=d0,file="$demo/root.img",format=raw,snapshot=on -device virtio-blk-pci,drive=d0 \
	</dev/null | tr -d '\r' | tee "$demo/console.log"
end=$(date +%s.%N)

echo
echo "==== what happened ($(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s from QEMU start to power-off) ===="
grep -E '^(coldplug: |kinit: (root=|mounted|ip: |switching)|Hello from|rootinit: (pid|iface)|KMODBOOT-ROOT-)' "$demo/console.log" || true
grep -q '^KMODBOOT-ROOT-OK demo' "$demo/console.log"
