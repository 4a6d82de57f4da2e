#!/usr/bin/env bash
# run-qemu.sh SERIES [QEMU ARGS...] — stage a modloadcheck image for Debian's SERIES kernel
# (6.1 or 6.12), boot it under QEMU (TCG) and print the guest's console.
#
# This is the manual twin of the vmtest boots listed in README.md: the same image, the same
# devices. It succeeds when the console shows "KMODBOOT-CHECKS-DONE pass=N fail=0".
# Environment: BENCH=N adds N rounds of the load benchmark, SET=m1,m2 its modules and
# CHECKS=a,b the checks run with it; SMP (default 2) guest CPUs; TIMEOUT (default 300 s);
# KEEP=1 keeps the staging directory.
set -euo pipefail
series=${1:?usage: run-qemu.sh 6.1|6.12 [qemu args...]}
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
kdir=$("$repo/scripts/fetch-kernel.sh" "$series" | tail -n 1)
release=$(ls "$kdir/lib/modules")
work=$(mktemp -d /tmp/modloadcheck.XXXXXX)
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT
root="$work/root"
mods="$root/lib/modules/$release"
mkdir -p "$root/sbin"

# The modules the checks and the benchmark use, closed over dependencies and softdeps.
(cd "$repo" && go build -o "$work/mkmeta" ./cmds/mkmeta)
want="virtio_pci,virtio_blk,virtio_net,ext4,crc7,bch,crc8,ts_kmp,crc_itu_t,e1000,e1000e,virtio_scsi,sd_mod,nvme,ahci,ata_piix"
"$work/mkmeta" -root "$kdir" -r "$release" -m "$want" -stage "$root" >&2

(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$root/sbin/modload" ./cmds/modload &&
	CGO_ENABLED=0 go build -trimpath -o "$root/init" ./vmtest/modloadcheck)
ln -s modload "$root/sbin/modprobe"
mkdir -p "$root/dev" && mknod "$root/dev/console" c 5 1
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.gz")

# The ext4 disk that request_module's mount reads.
mkdir -p "$work/disk"
echo kmodboot-disk-ok > "$work/disk/MARKER"
mkfs.ext4 -q -F -L kmodboot -d "$work/disk" "$work/disk.img" 32M
truncate -s 8M "$work/scsi.img" "$work/nvme.img"

bench=""
[ -n "${BENCH:-}" ] && bench="-- -bench=${BENCH} ${SET:+-set=$SET} ${CHECKS:+-checks=$CHECKS}"
timeout "${TIMEOUT:-300}" qemu-system-x86_64 -accel tcg -m 1G -smp "${SMP:-2}" -nographic -no-reboot \
	-kernel "$kdir/boot/vmlinuz-$release" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 loglevel=4 $bench" \
	-drive file="$work/disk.img",if=virtio,format=raw \
	-netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0,romfile= \
	-device e1000,netdev=n1,romfile= -netdev user,id=n1,restrict=on \
	-device e1000e,netdev=n2,romfile= -netdev user,id=n2,restrict=on \
	-device virtio-scsi-pci,id=scsi0 -drive file="$work/scsi.img",if=none,id=scsidisk,format=raw -device scsi-hd,drive=scsidisk,bus=scsi0.0 \
	-drive file="$work/nvme.img",if=none,id=nvmedisk,format=raw -device nvme,drive=nvmedisk,serial=kmodboot \
	-device ich9-ahci,id=ahci0 \
	"$@" | tr -d '\r' | tee "$work/console.txt"
grep -q "KMODBOOT-CHECKS-DONE pass=[0-9]* fail=0" "$work/console.txt"
