// Package ungzip decompresses gzip data (RFC 1952) holding DEFLATE streams (RFC 1951) in
// memory, for kernel modules compressed as .ko.gz.
//
// Decode takes the whole input and returns the whole output: one or more gzip members,
// concatenated, as gzip -dc decodes them. The output is capped by a limit that the caller
// gives, so a small hostile input cannot make Decode allocate or produce more. The ISIZE of
// the last member, which for the usual single member is the size of the whole output, is
// used to allocate the output once when it is plausible: no more than the limit and no more
// than the input can hold (DEFLATE expands at most 1032 times); otherwise the output grows as
// it is written.
//
// The package has no dependencies beyond the standard library's small packages and does no
// work at program start: it imports neither compress/flate, compress/gzip nor hash/crc32
// (whose package initialization a binary pays at every start), builds its CRC-32 tables and
// the fixed Huffman tables on first use, and pools its decoders between calls.
//
// # Supported
//
// Every gzip header field: FTEXT, FHCRC (the header's CRC16 is verified), FEXTRA (skipped),
// FNAME and FCOMMENT (any length, skipped); the trailer's CRC-32 and ISIZE (the output size
// modulo 2^32) are verified for each member. All three DEFLATE block types: stored, fixed
// Huffman and dynamic Huffman codes.
//
// After the last member, zero bytes up to the end of the input are ignored, as gzip(1) does
// silently (tape and dd padding); compress/gzip refuses them.
//
// # Refused
//
// A compression method other than 8 (DEFLATE) fails with an error wrapping ErrUnsupported;
// no other method was ever defined.
//
// Anything invalid fails with an error wrapping ErrCorrupt that names the failing structure
// and its byte offset, among them: a bad magic number; reserved header flag bits (gzip(1)
// refuses them too, compress/gzip ignores them); a header CRC16, CRC-32 or ISIZE mismatch;
// truncation anywhere; the reserved block type 3; a stored block whose length does not match
// its complement; more than 286 literal/length or 30 distance codes; an over-subscribed or
// incomplete code, except that, as in zlib, a literal/length or distance code may be a single
// 1-bit code and a distance code may be empty (for a block of literals only), while the code
// length code must be complete (compress/flate and gzip(1) also accept a single 1-bit code
// length code, but no block can then have a valid literal/length code, so they fail later); a
// code length repeat at the start or past the lengths; a dynamic block without an
// end-of-block code; the unused literal/length symbols 286 and 287 and distance symbols 30
// and 31; a match distance reaching before the start of its member's output (each member
// starts with an empty window).
//
// Trailing bytes that are neither a member nor zero padding (including a member that follows
// zero padding) are ErrCorrupt: gzip(1) prints the members before them and exits with status
// 2, "decompression OK, trailing garbage ignored", a warning that a program loading a module
// cannot show, and compress/gzip fails on them.
//
// # Speed
//
// On the 6.1 kernel's modules Decode runs about a third faster than compress/gzip (see
// BenchmarkDecode): the bit buffer is refilled 64 bits at a time from the input in memory,
// the Huffman tables resolve most codes in one lookup that also yields the length or distance
// base and its extra bits, matches are copied eight bytes at a time, and the CRC-32 uses
// slicing-by-16 tables.
package ungzip
