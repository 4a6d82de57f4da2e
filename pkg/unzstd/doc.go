// Package unzstd decompresses Zstandard data (RFC 8878) in memory, for kernel modules
// compressed as .ko.zst.
//
// Decode takes the whole input and returns the whole output: one or more frames, concatenated,
// with skippable frames anywhere among them. The output is capped by a limit that the caller
// gives, so a small hostile input cannot make Decode allocate or produce more; a declared
// Frame_Content_Size is checked against that limit (and against what the rest of the input can
// possibly hold) before anything is allocated, and is then used to allocate the output once.
//
// The package has no dependencies beyond the standard library's small packages and does no
// work at program start: the predefined FSE tables are built on first use, and decoders are
// pooled between calls. It exists so that the initramfs tools can read .ko.zst without
// linking a general-purpose compression library, whose package initialization and size are
// paid at every process start.
//
// # Supported
//
// Everything in RFC 8878 that decoding without a dictionary needs: all frame header field
// sizes, single-segment frames, the window descriptor, raw, RLE and compressed blocks, raw,
// RLE, Huffman-compressed (one or four streams) and treeless literals, Huffman tree
// descriptions with direct or FSE-compressed weights, the predefined, RLE, FSE-compressed and
// repeat modes of the three sequence code tables, repeat offsets, and the XXH64 content
// checksum (implemented here), whose low 32 bits are verified.
//
// # Refused
//
// A frame whose header names a dictionary (a non-zero Dictionary_ID) fails with an error
// wrapping ErrUnsupported: kernel modules are never compressed with one, and decoding one
// would need the dictionary's content and tables.
//
// Anything invalid fails with an error wrapping ErrCorrupt that names the failing structure
// and its byte offset, among them: a reserved bit or block type, a block, literals section or
// decoded block larger than Block_Maximum_Size (the smaller of the window size and 128 KiB), a
// match offset reaching before the frame's first byte or beyond the window, a bitstream not
// consumed exactly, a repeat-mode table or treeless literals with nothing to repeat, output
// that disagrees with Frame_Content_Size, a checksum mismatch, truncation, trailing bytes
// that are not a frame, and an empty input. Every window size the descriptor can express is
// accepted: the window only bounds match offsets here, since the whole output stays in memory
// anyway.
//
// Two checks follow libzstd and RFC 8878 where klauspost/compress/zstd is more lenient: a
// "Repeated_Offset1 - 1" of zero is an error (klauspost silently uses 1), and a single-segment
// frame's window is its content size, so a compressed block larger than that is an error
// (klauspost allows at least 1 KiB). No encoder writes either.
//
// # Speed
//
// On the 6.1 kernel's modules Decode runs at about 65-70% of the speed of klauspost's DecodeAll
// with its amd64 assembly, and somewhat faster than klauspost's pure Go code (build tag
// noasm); see BenchmarkDecode. Sequences are decoded in batches and then executed, Huffman
// literals four streams at a time, and output is written straight into the result.
package unzstd
