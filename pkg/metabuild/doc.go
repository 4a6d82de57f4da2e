// Package metabuild builds meta.pb, kmodboot's module index (spec.Index), from a kernel's module
// tree on the host. It plays the part of depmod: it reads every module's .modinfo in parallel,
// resolves depends= to module indices, gathers softdeps and firmware, adds the built-in modules
// and compiles every alias into one match table (pkg/modalias).
//
// It is host-side only: initramfs binaries read meta.pb through pkg/modindex and must not import
// this package (it pulls in the whole builder).
//
// # Inputs
//
// Options.ModuleRoot is a /lib/modules/<release> directory under any root. Every .ko, .ko.xz,
// .ko.zst and .ko.gz below it is a module, except below directories named "build" or
// "source" (as depmod skips them). Symbolic links to module files are followed only when they
// stay inside the root; a link that leaves the root is an error, and links to directories are
// not followed. Other files read, all optional:
//
//   - modules.order: the kernel build's module list, used to choose between duplicates.
//   - modules.builtin: names of built-in modules.
//   - modules.builtin.modinfo: .modinfo records of built-in code. A name there becomes a
//     built-in module when it is listed in modules.builtin or has at least one alias (such as
//     debugfs's "fs-debugfs"): kmod resolves those aliases to "builtin", while names like
//     "workqueue" that only carry parameters are not modules for kmod and are left out.
//   - modprobe.d-style configuration: "softdep" lines of the *.conf files in Options.ConfigDirs
//     (by default <root>/modprobe.d and, when the root is <sys>/lib/modules/<release>,
//     <sys>/{etc,run,usr/local/lib,usr/lib,lib}/modprobe.d). As in kmod, files are taken in
//     name order and a name in an earlier directory hides the same name in later ones.
//
// # Duplicate module names
//
// Two files may provide the same module name (a module rebuilt into updates/, say). depmod's
// rule with no depmod.d configuration is: a file below "updates/" wins over any other; between
// files of equal priority the one found first wins, which for depmod is readdir order. We keep
// the first rule and make the second deterministic: the file listed earlier in modules.order
// wins, then any listed file over an unlisted one, then the lexically smaller path. The loser
// is reported as a warning and counted in Stats.Duplicates.
//
// # Softdeps
//
// A module's softdeps come from its softdep= fields, all of them merged in order. kmod 30 uses
// only the first "softdep" line it finds for a module (btrfs declares four softdep= fields and
// modprobe loads only the first); the kernel means all of them, so the index keeps all. When the
// configuration has softdep lines for a module (their module name may be a glob), those replace
// the module's own softdeps, as kmod's configuration takes precedence over modules.softdep.
//
// # Subsets
//
// Options.Classes and Options.Names choose a subset: the chosen modules plus, transitively,
// their hard dependencies and softdeps. A softdep name is resolved like modprobe would: an exact
// module name, else every module with a matching alias (ext4's "pre: crc32c" pulls in both
// crc32c_generic and crc32c-intel). Built-in modules are always kept, since they cost nothing
// and let a loader answer "built in" instead of "not found". The classes are:
//
//   - nic: wired network interface drivers: drivers/net/ethernet/**, drivers/net/virtio_net,
//     drivers/net/vmxnet3/**, drivers/net/hyperv/** (netvsc), drivers/net/xen-netfront,
//     drivers/net/usb/** (USB Ethernet adapters), and the PHY, MDIO and PCS drivers under
//     drivers/net/{phy,mdio,pcs}/** that NICs bind at run time through aliases rather than
//     hard dependencies. Wireless, tunnels, bonding and other virtual devices are not included.
//   - storage: block device drivers and what it takes to reach a root disk: drivers/block/**,
//     drivers/scsi/** (sd_mod, sr_mod, virtio_scsi, HBAs), drivers/ata/**, drivers/nvme/host/**
//     and drivers/nvme/common/**, drivers/virtio/** (the virtio transports), drivers/mmc/**
//     (SD/eMMC), drivers/ufs/**, drivers/message/fusion/** (LSI HBAs on VMware),
//     drivers/usb/storage/** with drivers/usb/host/** (a USB disk needs its host controller),
//     drivers/md/** (software RAID and device mapper, for LVM or encrypted roots) and
//     drivers/cdrom/**.
//   - fs: every file system module: fs/** (including nls and jbd2).
//
// Class paths are matched against the module's path with its first directory (kernel/,
// updates/, extra/, ...) removed.
//
// # Output
//
// Modules are sorted by name; Marshal produces deterministic bytes, so the same tree always
// gives a byte-identical meta.pb.
package metabuild
