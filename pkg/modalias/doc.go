// Package modalias answers "which modules handle this modalias?" exactly as kmod 30 does,
// from a match table stored in meta.pb and used in place.
//
// # Semantics
//
// Aliases and patterns are first rewritten by Normalize (kmod's alias_normalize: '-' becomes
// '_' outside brackets). A pattern without '*', '?' or '[' matches only the identical alias.
// Otherwise its literal prefix, the bytes before the first of those three, must equal the
// start of the alias byte for byte, and the rest of the pattern must match the rest of the
// alias under Fnmatch, a reimplementation of glibc's fnmatch(3) with flags 0 in the C locale.
// MatchAlias states this for one pattern; Table.Lookup returns every matching (pattern,
// module) pair of a whole table, so a module may come back once per pattern that matches.
// kmod's precedence between module aliases and built-in aliases is the caller's business
// (pkg/modindex): a Hit says whether it came from a built-in module.
//
// Known divergence: bytes >= 0x80 in patterns are outside what kmod 30 handles. Its trie
// code indexes children by signed char: depmod crashed (SIGSEGV) here on a set of built-in
// aliases where such a byte sits at a branch of the trie, and libkmod's lookup may or may not
// descend to such a branch. This package compares bytes as unsigned bytes throughout. No
// kernel modalias contains such bytes.
//
// # Table layout
//
// Build turns entries into Arrays, the fields of meta.pb's MatchTable message (this package
// does not import spec, so matching programs skip the protobuf set-up). NewTable reads the
// arrays in place after checking only their sizes; Lookup checks the records it uses, and
// Validate checks them all. All integers are little-endian uint32 words. Layout 1:
//
// strings: a byte pool. Pattern texts (normalized) are stored once per distinct text; node
// labels are slices of those texts.
//
// nodes: 7 words per node, node 0 the root of a path-compressed radix trie over the
// patterns' literal prefixes, numbered so that siblings are consecutive and each subtree is
// one contiguous range (for cache locality):
//
//	0 labelOff    label = strings[labelOff : labelOff+labelLen], the bytes this node adds
//	1 labelLen    to its parent's path (bits 0..15; 0 only for the root) and childCount
//	  childCount  (bits 16..31, at most 256)
//	2 firstChild  children are nodes firstChild .. firstChild+childCount-1, sorted by the
//	              first byte of their label; firstChild > this node's index
//	3 patStart    this node's pattern records run from patStart to the next node's patStart
//	              (pattern_count for the last node) and are, in order:
//	4 exactCount    patterns without wildcards, whose text is the node's path;
//	5 scanCount     wildcard patterns tried one by one behind a prefilter;
//	                the rest: wildcard patterns reached through the node's gram table
//	6 gram        gramStart (bits 0..23) and gramBits (bits 24..31): the node's gram table
//	              is slots gramStart .. gramStart+2^gramBits-1; 0 if and only if the node
//	              has no anchored patterns
//
// edges: one byte per node, the first byte of its label (0 for the root).
//
// patterns: 6 words per record, one per distinct (normalized pattern, module, built in):
//
//	0 textOff     text = strings[textOff : textOff+textLen], the normalized pattern
//	1 textLen     bits 0..15; prefixLen, the length of the literal prefix (textLen for a
//	  prefixLen   pattern without wildcards), bits 16..31
//	2 module      index into Index.modules
//	3 flags       bit 0: built in; bit 1: the wildcard part has only '*' and plain bytes
//	              (matched by a faster routine); bits 16..31: the fewest bytes the
//	              wildcard part can match (saturating)
//	4 maskLo      a 64-bit set of byte classes (see maskBit) that must all occur in the
//	5 maskHi      alias after the literal prefix; 0 when the pattern is too unusual to tell
//
// grams: 3 words per slot of per-node open-addressing tables (linear probing, at most half
// full): gram (4 alias bytes, little-endian), patStart, patCount; patCount 0 marks an empty
// slot. An anchored pattern's wildcard part contains its gram as literal bytes, so it can
// only match an alias that contains the gram after the literal prefix: Lookup hashes every
// 4-byte window of that part of the alias and tries only the patterns filed under it.
//
// # Cost
//
// Lookup walks one trie path, so it only ever considers patterns whose literal prefix is a
// prefix of the alias; large groups (1,756 "of:N*T*C..." patterns in Linux 6.1) are reached
// through their gram tables. Fnmatch needs at most len(pattern)*len(alias) steps, never
// exponential time. A corrupt table yields an error from NewTable, Validate or Lookup, never a
// panic or a hang: the walk only moves to later nodes, probes are bounded, and Lookup turns an
// out-of-range offset into an ErrCorrupt error.
package modalias
