// Package bootparam parses the kernel command line the way an initramfs init needs it: where the
// root filesystem is (root=, rootfstype=, rootflags=, ro/rw, rootwait, rootdelay=), what to run
// on it (init=, and the arguments after "--"), whether to bring up the network first (ip=), and
// kmodboot's own kmodboot.* switches.
//
// Everything here is portable and side-effect free, so the init's decisions are unit-tested on
// any machine; cmds/kinit does the mounting and switching on Linux.
//
// # Splitting
//
// Split follows the kernel's next_arg: parameters are separated by spaces, a double quote
// starts or ends a quoted stretch in which spaces do not separate (root="LABEL=my disk"), and
// the quote characters themselves are dropped. "--" ends the kernel's parameters; what follows
// is passed to init.
//
// # Root specifications
//
// root= takes the forms the kernel and initramfs-tools accept: a device path (/dev/vda1), a
// device number (MAJOR:MINOR, or the kernel's hexadecimal MMmm), LABEL=, UUID=, PARTUUID=
// (optionally with /PARTNROFF=n), and PARTLABEL=. They parse into a blockid.Spec, which
// pkg/blockid matches against the block devices it finds.
//
// # Defaults
//
// Like the kernel, the root is mounted read-only unless "rw" is given, and init defaults to the
// first of /sbin/init, /etc/init, /bin/init and /bin/sh that exists. Unlike the kernel, waiting
// is always bounded: without rootwait the init polls for DefaultRootWait (drivers are loaded
// asynchronously, and SCSI scanning finishes after the driver's init returns); "rootwait"
// raises the bound to DefaultRootWaitFlag and "rootwait=N" sets it to N seconds.
package bootparam
