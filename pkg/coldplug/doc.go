// Package coldplug loads the drivers of every device present at boot, including the devices
// that only appear once another driver is loaded.
//
// At early boot nothing else loads drivers. Each device the kernel knows has a modalias file
// under /sys/devices ("pci:v00001AF4d00001000...", "virtio:d00000001v00001AF4", "scsi:t-0x00");
// the module whose alias patterns match it is its driver. Loading a driver often creates more
// devices: virtio_pci creates the virtio devices that virtio_net and virtio_blk drive, ahci and
// virtio_scsi create SCSI disks that need sd_mod. A single pass over sysfs misses those.
//
// # The loop
//
// Run scans <root>/sys/devices once, queues every distinct modalias, and loads what each
// resolves to through a Loader, many at a time. Meanwhile it takes in "add" uevents that carry a
// MODALIAS (the caller opens the uevent socket before Run, so nothing added after the scan is
// missed). Without uevents (no socket, or it failed) it rescans sysfs as loads finish instead.
// It stops when it has settled: nothing is loading, and it has taken in every uevent the kernel
// has sent, by the kernel's counter (/sys/kernel/uevent_seqnum), as udevadm settle decides.
// Every device a load creates exists when the load returns (finit_module waits for the
// module's asynchronous probes), and its "add" uevent is numbered and queued on the socket by
// then, so nothing is left to wait for. Without uevents, or if the counter stays ahead of what
// arrives, it waits until nothing has happened for a quiet period, scans one last time and
// stops. The caller's context bounds the whole run, so a hanging driver cannot hang the boot:
// Run then returns a report that names what was still loading. If the kernel dropped uevents
// (ENOBUFS), Run rescans.
//
// Modules for CPU features (cpu: modaliases: crypto accelerators, cpufreq) wait until every
// device driver has finished, second stage included: they drive no disk and no NIC, and their
// crypto self-tests would compete with the probes of those that do.
//
// A Loader that is also a LiveNoter gets the kernel's "add" uevent of each module from the
// event reader: the module is live, and the kernel is only waiting for other drivers'
// asynchronous probes before its finit_module returns, so what needs the module can load now.
//
// Per-module failures are recorded and never stop the rest. ENODEV from a module's init means
// the driver found no hardware it handles, and is reported as "no-device", not as a failure. A
// modalias that no module matches is normal (ACPI and platform devices bound by built-in
// drivers, virtio PCI functions on kernels with virtio_pci built in) and is reported as
// "unmatched".
//
// # Reports
//
// The Report lists every device, every modalias with what became of it, and every module with
// the start and end of its system call (and when it was live, if before the end), the modalias
// that asked for it and the module that pulled it in as a dependency: a boot trace. Summary gives the one-line summary, WriteTimeline
// draws the trace as text, and WriteTrace writes Chrome trace-event JSON for chrome://tracing or
// Perfetto.
//
// # Discovery
//
// Scan walks /sys/devices without following symbolic links: every device has exactly one
// directory there, and the links (subsystem, driver, /sys/bus/*/devices, /sys/class/*) point back
// into the tree, so following them would loop. Modaliases are deduplicated: a machine has many
// devices with the same modalias, and one load serves them all.
package coldplug
