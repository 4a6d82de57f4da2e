// Package kmod loads Linux kernel modules the way modprobe does, from a meta.pb index
// (pkg/modindex) instead of modules.dep and modules.alias.
//
// A Loader resolves a name or alias, orders the module's hard dependencies before it, loads its
// softdep "pre" modules before it and its "post" modules after it, and loads independent
// subtrees in parallel with a bounded number of concurrent system calls. Concurrent requests for
// one module coalesce: one finit_module, and every waiter gets its Result. This is what coldplug
// needs when a dozen devices ask for the same driver at once.
//
// # Live before the call returns
//
// finit_module returns only after the kernel, having marked the module live, has waited for
// every asynchronous probe in the system (ATA port probes and SCSI scans that other drivers
// started). A library such as libata is usable the moment it is live, so the loader starts a
// module's dependents, and frees its load slot, as soon as it learns the module is live: from
// NoteLive (a caller that reads uevents passes on the kernel's "add" event for /module/NAME,
// sent at that moment) or by reading the module's initstate every Options.LivePoll. Result.Live
// records when.
//
// # Kernel seam
//
// Every kernel call goes through the Kernel interface (finit_module, init_module, delete_module),
// so ordering, concurrency and error handling are tested with a fake kernel (see kmodtest) and
// the real system calls are proved by a VM test. A plain .ko is always loaded with finit_module.
// A compressed module (.ko.xz, .ko.zst, .ko.gz) is handed to finit_module with
// MODULE_INIT_COMPRESSED_FILE when <root>/sys/module/compression names its compression (Linux
// 6.12 from Debian decompresses xz itself); otherwise it is decompressed in userspace and loaded
// with init_module.
//
// # Errors
//
// EEXIST, and a module whose /sys/module/<name>/initstate says "coming", count as loaded: another
// process got there first. Every other failure is a *LoadError that names the module, its file
// and the system call, and carries a hint a person can act on (see dmesg for unknown symbols and
// parameters; ENOEXEC means the module was built for another kernel; signature errors; ENODEV
// means no such hardware, which errors.Is(err, ErrNoDevice) reports so coldplug can treat it as
// benign; EPERM means CAP_SYS_MODULE is missing or module loading is disabled).
//
// # Configuration
//
// Config follows kmod: *.conf files of /etc/modprobe.d, /run/modprobe.d,
// /usr/local/lib/modprobe.d, /lib/modprobe.d and /usr/lib/modprobe.d (a file name found in an
// earlier directory hides the same name in later ones; the surviving files are read in order of
// their base names), then the kernel command line (<root>/proc/cmdline): modprobe.blacklist=a,b
// and <module>.<param>=<value>, split and unquoted the way the kernel does. It supports options,
// blacklist, alias (fnmatch patterns that take precedence over the index, as in libkmod) and
// softdep (which replaces the index's softdeps of that module). install and remove commands
// are not run: "install m /bin/true" and "/bin/false", the usual ways to disable a module, are
// honoured, and any other command makes loading that module fail with an error saying so.
//
// The blacklist applies to modules found through an alias, never to a module named
// explicitly unless Options.BlacklistNames is set (modprobe -b); LoadAlias, used by coldplug,
// always applies it.
//
// # Loaded state
//
// Whether a module is loaded comes from <root>/sys/module/<name>/initstate ("live", "coming",
// "going"); a built-in module has /sys/module/<name> without initstate, or no directory at all,
// and the index marks it built in. Unload reads reference counts and holders from
// <root>/proc/modules.
package kmod
