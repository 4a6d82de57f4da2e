// Package blockid identifies block devices the way blkid(8) does for an initramfs: it reads
// filesystem superblocks (ext2/3/4, XFS, Btrfs, FAT, SquashFS) for their type, UUID and label,
// reads partition tables (GPT and MBR) for partition UUIDs and names, and finds the device that
// a root= specification such as LABEL=root or PARTUUID=... names.
//
// # Layout
//
// Probe and Partitions work on any io.ReaderAt, so they are tested against real filesystem
// images. Scan walks a sysfs tree (class/block) and opens device nodes under a /dev directory;
// both roots are parameters, so tests point them at fixtures.
//
// # What is not covered
//
// Logical partitions inside an MBR extended partition have no PARTUUID here; LVM, MD RAID and
// encrypted volumes are out of scope (they need their own userspace before the root exists).
package blockid
