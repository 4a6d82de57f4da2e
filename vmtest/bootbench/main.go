//go:build linux

// bootbench is the uinit of the boot benchmark's baseline image: u-root's own init loads the
// drivers named by the kernel's modules_load= parameter (u-root's pkg/kmodule, which reads
// modules.dep), then runs this program, which mounts the root and reports when it did.
//
// Synopsis:
//
//	/bin/uinit    (run by u-root's init after it has loaded modules_load=)
//	/sbin/init    (of the benchmark's root disk, exec'd as PID 1 by kinit after switch_root)
//
// Description:
//
// It prints, with times in seconds since the kernel started (/proc/uptime; init_start is the
// kernel's "Run /init as init process" record in /dev/kmsg):
//
//	KMODBOOT-BOOTBENCH drivers-loaded init_start=S at=T
//
// as soon as it starts (u-root's init has finished loading modules_load= by then), waits up to
// 60 seconds for a block device holding an ext4 file system, mounts it read-only and prints
//
//	KMODBOOT-BOOTBENCH root-mounted at=T dev=/dev/NAME
//
// or "KMODBOOT-BOOTBENCH root-failed: WHY", then "KMODBOOT-BOOTBENCH modules: NAME..." (the
// modules in /proc/modules) and powers the machine off. As PID 1 (on the root disk, after
// kinit's switch_root) it prints "KMODBOOT-BOOTBENCH switched-root init_start=S at=T" instead
// of mounting anything, then the modules line, and powers off.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	at := uptime()
	if os.Getpid() == 1 {
		// The kmodboot image's kinit switched to the benchmark's root disk and exec'd us: only
		// report when the kernel started the initramfs's /init, for the same reference point.
		fmt.Printf("KMODBOOT-BOOTBENCH switched-root init_start=%.3f at=%.3f\n", initExec(), at)
	} else {
		fmt.Printf("KMODBOOT-BOOTBENCH drivers-loaded init_start=%.3f at=%.3f\n", initExec(), at)
		if dev, err := mountRoot(60 * time.Second); err != nil {
			fmt.Printf("KMODBOOT-BOOTBENCH root-failed: %v\n", err)
		} else {
			fmt.Printf("KMODBOOT-BOOTBENCH root-mounted at=%.3f dev=%s\n", uptime(), dev)
		}
	}
	fmt.Printf("KMODBOOT-BOOTBENCH modules: %s\n", strings.Join(loaded(), " "))
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Printf("bootbench: power off: %v\n", err)
	}
	select {}
}

// uptime returns the seconds since boot, or -1 when /proc/uptime cannot be read.
func uptime() float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// initExec returns when the kernel started /init, in seconds since boot: the time stamp of the
// kernel's "Run /init as init process" record in /dev/kmsg, or -1. (PID 1's start time in
// /proc/1/stat is useless here: it is when the kernel thread was created, long before exec.)
func initExec() float64 {
	f, err := os.OpenFile("/dev/kmsg", os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1
	}
	defer f.Close()
	buf := make([]byte, 8192)
	for {
		n, err := f.Read(buf) // one record per read: "PRI,SEQ,USEC,FLAGS;TEXT\n"
		if err != nil {
			if errors.Is(err, unix.EPIPE) { // a record was overwritten: go on
				continue
			}
			return -1
		}
		rec := string(buf[:n])
		semi := strings.IndexByte(rec, ';')
		if semi < 0 || !strings.HasPrefix(rec[semi+1:], "Run /init as init process") {
			continue
		}
		h := strings.Split(rec[:semi], ",")
		if len(h) < 3 {
			return -1
		}
		us, err := strconv.ParseFloat(h[2], 64)
		if err != nil {
			return -1
		}
		return us / 1e6
	}
}

// loaded returns the names of the modules in /proc/modules.
func loaded() []string {
	b, err := os.ReadFile("/proc/modules")
	if err != nil {
		return []string{"(" + err.Error() + ")"}
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// mountRoot mounts the first block device that holds ext4 on /newroot, read-only, retrying
// until d has passed.
func mountRoot(d time.Duration) (string, error) {
	if err := os.MkdirAll("/newroot", 0o755); err != nil {
		return "", fmt.Errorf("create /newroot: %w", err)
	}
	deadline := time.Now().Add(d)
	var last error
	for {
		names, _ := filepath.Glob("/sys/class/block/*")
		for _, n := range names {
			dev := "/dev/" + filepath.Base(n)
			err := unix.Mount(dev, "/newroot", "ext4", unix.MS_RDONLY, "")
			if err == nil {
				return dev, nil
			}
			last = fmt.Errorf("mount %s as ext4: %w", dev, err)
		}
		if time.Now().After(deadline) {
			if last == nil {
				last = fmt.Errorf("no block device appeared (is the disk driver in modules_load=?)")
			}
			return "", fmt.Errorf("after %v: %w", d, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
