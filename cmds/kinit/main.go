// kinit is kmodboot's PID-1 init for an initramfs: it loads the drivers for the hardware that
// is present, finds the root filesystem, mounts it and switches root to it.
//
// Synopsis:
//
//	/init    (started by the kernel as PID 1; it takes no arguments)
//
// Description:
//
// kinit mounts /proc, /sys, /dev (devtmpfs), /dev/pts and /run, points
// /proc/sys/kernel/modprobe at /sbin/modprobe (kmodboot's modload) so the kernel's
// request_module calls are served, and runs coldplug to load the drivers of every device
// present. It then reads the kernel command line (see pkg/bootparam): root= (/dev/NAME,
// MAJOR:MINOR, LABEL=, UUID=, PARTUUID=, PARTLABEL=), rootfstype=, rootflags=, ro/rw,
// rootwait[=N], rootdelay=, init= and ip= (DHCP through u-root's client, or static). While
// waiting for the root device it re-runs coldplug for devices that appear late. It mounts the
// root (the kernel loads the filesystem module through request_module) and switches root with
// u-root's pkg/mount.SwitchRoot, which execs init as PID 1.
//
// On any failure kinit prints what is missing (no device for root=, no driver matched the disk
// controller, the mount error with the filesystem type) and starts a rescue shell on the
// console; leaving the shell retries the boot. kinit never exits: PID 1 exiting is a kernel
// panic. kmodboot.rescue on the command line stops in the shell after coldplug, and
// kmodboot.coldplug=0, kmodboot.coldplug_timeout=D, kmodboot.verbose and
// kmodboot.cpu_features=POLICY (coldplug's -cpu-features) control coldplug.
//
// Every line kinit prints starts with "kinit: ", so tests and people can follow the boot on
// the serial console.
package main

import (
	"fmt"
	"io"
	"os"
)

const name = "kinit"

func main() {
	// kinit never returns: run only comes back if PID 1 has nowhere else to go.
	run(os.Stdout)
	fmt.Fprintf(os.Stderr, "%s: unreachable: run returned\n", name)
	select {}
}

// logf prints one "kinit: " line to w.
func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, name+": "+format+"\n", args...)
}
