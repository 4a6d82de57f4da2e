// Package initramfs assembles kmodboot's bootable initramfs on the build host.
//
// An image is one gobusybox binary (u-root's core commands, a rescue shell, and kmodboot's
// kinit, modload, coldplug and modmatch) plus a subset of one kernel's modules with its
// meta.pb, compressed for the kernel to unpack:
//
//	/init            -> bbin/kinit        (PID 1: coldplug, find root, switch root)
//	/sbin/modprobe   -> ../bbin/modload   (serves the kernel's request_module)
//	/bin/sh          -> ../bbin/gosh      (rescue shell)
//	/bbin/bb                              (the busybox; bbin/<cmd> link to it)
//	/lib/modules/<release>/meta.pb        (index written by mkmeta)
//	/lib/modules/<release>/kernel/...     (the NIC, storage and filesystem modules)
//
// The module subset is staged by the mkmeta command (cmds/mkmeta -stage), which closes the
// chosen classes over dependencies and softdeps. The busybox is built with
// github.com/u-root/mkuimage's uimage package, the same code as the mkuimage command.
//
// This package runs on the build host only; nothing in the image imports it.
package initramfs
