// Package unxz decompresses .xz data in memory: the container of XZ Utils (xz(1)) with the LZMA2
// filter, which is what the kernel build writes for .ko.xz modules
// (xz --check=crc32 --lzma2=dict=1MiB).
//
// It exists so that binaries which load modules at early boot can read .ko.xz without linking
// github.com/ulikunitz/xz: that library's package inits build tables and pull in crypto/rand
// and math/big, costing about half a millisecond at every process start. This package does no
// work at init (tables are constants, the CRC64 table of hash/crc64 is built on first use) and
// imports only cheap standard packages.
//
// # Format
//
// An .xz file is one or more streams, each optionally followed by stream padding (zero bytes, a
// multiple of four). A stream is a 12-byte header (magic, flags naming the check type, CRC32),
// blocks, an index listing each block's unpadded and uncompressed size, and a 12-byte footer
// (CRC32, the index size, the flags again, magic). A block is a header (sizes, the filter chain,
// CRC32), the compressed data, padding to a multiple of four and the check of the uncompressed
// data. LZMA2 data is a sequence of chunks: uncompressed chunks, and LZMA chunks, each of which
// may reset the LZMA state, set new lc/lp/pb properties and reset the dictionary.
//
// # What is checked
//
// Everything the format lets a decoder check: the magics, the CRC32 of stream headers, footers,
// block headers and the index; reserved flags and padding; the block header's compressed and
// uncompressed sizes when present; the block check (CRC32, CRC64 or SHA-256, verified); the
// index against the blocks actually decoded (count, unpadded and uncompressed sizes) and the
// footer's backward size against the index; the LZMA2 chunk sequence (the first chunk must reset
// the dictionary, new properties must follow a dictionary reset, lc+lp <= 4); and inside each
// LZMA chunk, that every match reaches only into data decoded since the last dictionary reset
// and no farther than the dictionary size, that no match runs past the chunk, and that the
// chunk's compressed size is exactly what its range coder consumed, ending flushed.
//
// # What is refused, and why
//
// Filters other than LZMA2 (the BCJ branch converters for x86, ARM, ... and delta) give an
// error wrapping ErrUnsupported that names the filter: kernel modules never use them, and each
// would be code to carry in every initramfs binary. So do check types other than none, CRC32,
// CRC64 and SHA-256 (the format reserves them; xz(1) itself only writes these four), and
// reserved header flags, which may announce fields this decoder would misread.
//
// # Design
//
// The dictionary size in the LZMA2 filter properties bounds how far back matches may reach, as
// in xz(1), but no dictionary buffer is allocated: the whole output is the dictionary, so
// matches copy from the output itself.
//
// SHA-256 is computed by a small implementation in this package rather than crypto/sha256:
// importing crypto/sha256 links the FIPS 140 module (about 220 KB) and its package inits.
//
// # Memory
//
// Decode writes the output once, into one slice: when the stream indexes are readable (read
// from the end of the input before decoding) it is allocated at its final size, otherwise from
// the block headers' uncompressed sizes, otherwise it grows by doubling. Nothing is allocated
// beyond the caller's limit, whatever sizes the input declares, and a declared size above the
// limit fails at once with ErrTooLarge. Besides the output, a decode uses about 100 KB of
// decoder state, reused across calls.
package unxz
