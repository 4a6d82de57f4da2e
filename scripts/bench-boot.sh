#!/usr/bin/env bash
# bench-boot.sh — boot to root mounted: the default kmodboot image against the image users build
# today, inside QEMU guests (issue 5's benchmark).
#
# Two baselines, with the same module files and kmod's depmod output in place of meta.pb:
# u-root's own init (cmds/core/init), which loads the kernel's modules_load= list with u-root's
# pkg/kmodule (modules.dep) and then runs vmtest/bootbench as uinit, which mounts the ext4 root;
# and a busybox initramfs whose /init shell script runs the loop initramfs scripts use (every
# modalias through busybox modprobe -b, repeated until nothing is new; modules.dep and
# modules.alias) and then vmtest/bootbench. modules_load= lists every module the kmodboot boot
# of the same machine ended up with. Same kernel (Debian 6.1), same machines (virtio-net +
# virtio-blk; e1000e + ahci), TCG, -cpu max -m 1G, boots alternating, one VM at a time. Prints
# per machine and image the medians over BOOTS boots, in seconds since the kernel started, of
# init's start, drivers loaded and root mounted, the driver-loading time (drivers loaded -
# init's start) and its ratio to each baseline's (goal: kmodboot <= 0.5x), and the compressed
# image sizes (zstd -19 all). See TestBootBench.
#
# Environment: BOOTS (default 5), SERIES (default 6.1), KINIT_ARGS (kernel arguments for the
# kmodboot boots only, space-separated: KINIT_ARGS=kmodboot.cpu_features=with-devices). Takes
# about 40 s per round of three boots.
set -euo pipefail
cd "$(dirname "$0")/.."
KMODBOOT_BOOTBENCH=${BOOTS:-5} KMODBOOT_BOOTBENCH_SERIES=${SERIES:-6.1} KMODBOOT_BOOTBENCH_KINIT_ARGS=${KINIT_ARGS:-} \
	go test -count=1 -run '^TestBootBench$' -timeout 1h -v ./vmtest/ |
	grep -E 'KMODBOOT-BOOT-BENCH|modules_load=|round [0-9]+ |boot [(]|lacks|^(---|ok|FAIL|PASS)' |
	grep -v -e 'devices.go' -e '^ *qemu-system' | sed 's/^ *bootbench_test.go:[0-9]*: //'
