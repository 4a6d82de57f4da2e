// Package modinfo reads the .modinfo section of Linux kernel modules.
//
// A kernel module is an ELF relocatable object (ET_REL). Its .modinfo section is a run of
// NUL-terminated "key=value" strings written by the kernel build (MODULE_LICENSE, MODULE_ALIAS,
// MODULE_SOFTDEP, modpost's depends= and vermagic=, ...). This package finds that section with its
// own small ELF reader (ELF32 and ELF64, little and big endian) that checks every offset and size
// against the data it has, so a truncated or hostile file gives an error, never a panic. It does
// not import debug/elf: the package is linked into the initramfs binaries (the loader uses
// Decompress), where every kilobyte is paid at every boot.
//
// # Files
//
// ReadFile accepts plain .ko files and .ko.xz, .ko.zst and .ko.gz. For a plain .ko it reads
// only the ELF header, the section header table and the .modinfo section (a few pread calls),
// not the whole file. Compressed files are decompressed in memory; Decompress returns the whole
// ELF image, which is what init_module(2) needs when the kernel cannot decompress by itself.
//
// # Semantics
//
// Parsing follows kmod: empty strings between entries are skipped, an entry is split at its first
// '=', and softdep= values are read like modprobe.d softdep lines ("pre: a b post: c"), where
// words before the first "pre:" or "post:" are ignored. Module names (name=, depends=) are
// normalized with '-' replaced by '_', as the kernel spells them.
//
// ParseBuiltin reads modules.builtin.modinfo, the same records for modules compiled into the
// kernel image, each prefixed with "modname.".
package modinfo
