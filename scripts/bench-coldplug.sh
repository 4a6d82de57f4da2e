#!/usr/bin/env bash
# bench-coldplug.sh — coldplug against the shell modprobe loop, inside QEMU guests.
#
# Boots the machine of vmtest's TestColdplug (five NIC models, five disk models, three of them
# SCSI disks that need sd_mod) ROUNDS times per method, alternating, on each kernel series and
# guest CPU count, with vmtest/coldplugcheck as init. Each boot times one method from its start
# until every NIC and disk exists and until it exits: coldplug, or busybox sh running
# `for m in $(cat every modalias); do modprobe -b $m; done` until a pass finds nothing new,
# with busybox's modprobe or with kmod's (the reference; it loads the same modules as coldplug,
# busybox's misses the two CPU-feature ones). Prints the medians, the ratio coldplug/baseline
# against each (goal: <= 0.5) and coldplug's user CPU time against the kernel's time in its load
# calls (goal: <= 10%).
#
# Environment: ROUNDS (default 3), SERIES (default "6.1 6.12"), SMP (guest CPUs, default "1 2"),
# COLDPLUG_ARGS (extra coldplug flags, comma-separated; NAME=VALUE items are set in coldplug's
# environment), KERNEL_ARGS (extra kernel arguments for all methods, space-separated), METHODS
# (default "shell shell-kmod coldplug": the loop with busybox's modprobe, with kmod's, and
# coldplug; a coldplug method may carry flags after a colon: METHODS="shell coldplug
# coldplug:-j=4,GOMAXPROCS=1" alternates two variants),
# CHECK_ARGS (coldplugcheck flags: CHECK_ARGS=-kprofile KERNEL_ARGS=profile=2 prints each boot's
# kernel profile by function, CHECK_ARGS=-syscalls its system calls by command and thread),
# QEMU_ARGS (more QEMU arguments: QEMU_ARGS="-icount shift=0,sleep=off" SMP=1 makes the guest's
# clock count instructions, one a nanosecond, so that every time, CPU times included, is
# instructions executed instead of host time; QEMU then runs all guest CPUs on one host
# thread, so only SMP=1 means anything).
# Takes about a minute per boot.
set -euo pipefail
cd "$(dirname "$0")/.."
KMODBOOT_VMBENCH=${ROUNDS:-3} KMODBOOT_VMBENCH_SERIES=${SERIES:-"6.1 6.12"} KMODBOOT_VMBENCH_SMP=${SMP:-"1 2"} \
	KMODBOOT_VMBENCH_COLDPLUG_ARGS=${COLDPLUG_ARGS:-} KMODBOOT_VMBENCH_KERNEL_ARGS=${KERNEL_ARGS:-} KMODBOOT_VMBENCH_QEMU_ARGS=${QEMU_ARGS:-} \
	KMODBOOT_VMBENCH_METHODS=${METHODS:-} KMODBOOT_VMBENCH_CHECK_ARGS=${CHECK_ARGS:-} \
	go test -count=1 -run '^TestColdplugBench$' -timeout 3h -v ./vmtest/ |
	awk '/KMODBOOT-COLDPLUG-BENCH-FAIL/ { ctx = 40 }  # a boot without a result: the end of its console
		ctx > 0 { ctx--; print; next }
		/devices.go/ { next }
		/KMODBOOT-COLDPLUG-(BENCH|MODULES)|KMODBOOT-KPROF|KMODBOOT-SYSCALLS|^(---|ok|FAIL|PASS)/' | sed 's/^ *coldplug_test.go:[0-9]*: //'
