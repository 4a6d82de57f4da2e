package ungzip

import "math/bits"

// A huffTable decodes one canonical Huffman code of DEFLATE (RFC 1951, 3.2.2) by table
// lookup. DEFLATE sends a code's bits most significant first into a stream that is otherwise
// read least significant bit first, so the tables are indexed by the bit-reversed code.
//
// t starts with a primary table of 1<<root entries indexed by the next root bits of the
// stream; codes longer than root bits continue in subtables placed after it, one for each
// root-bit prefix, indexed by the bits that follow. An entry is
//
//	sym<<16 | n                  a symbol whose code is n bits long (1 <= n <= 15), or
//	off<<16 | sub<<8             a link to the subtable at t[off:] of 1<<sub entries, or
//	0                            no code starts with these bits (an incomplete code).
//
// A subtable entry holds the whole length of its code, so a lookup consumes bits only once.
// After build, the decoders rewrite the symbols into what they need (see litEntries and
// distEntries).
type huffTable struct {
	root uint
	t    []uint32
}

// Results of huffTable.build besides success.
const (
	codeOK = iota
	codeEmpty
	codeIncomplete // incomplete; the caller decides whether that is allowed
	codeOversubscribed
)

// build makes h decode the canonical code whose code lengths, by symbol, are lens (0: the
// symbol is not used), with a primary table of at most maxRoot bits. It returns codeOK,
// codeEmpty (no symbol at all, h then decodes nothing), codeOversubscribed (h is unusable) or
// codeIncomplete, with in the last case the longest code length (1 for the single-code sets
// that zlib accepts).
func (h *huffTable) build(lens []uint8, maxRoot uint) (result int, maxLen uint) {
	var count [16]uint16
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	maxLen = 15
	for maxLen > 0 && count[maxLen] == 0 {
		maxLen--
	}
	root := min(maxRoot, max(maxLen, 1))
	h.root = root
	size := 1 << root
	if cap(h.t) < size {
		h.t = make([]uint32, size, size+size/2)
	}
	h.t = h.t[:size]
	clear(h.t)
	if maxLen == 0 {
		return codeEmpty, 0
	}
	left := 1
	for l := 1; l <= 15; l++ {
		left = left<<1 - int(count[l])
		if left < 0 {
			return codeOversubscribed, maxLen
		}
	}
	// First code of each length.
	var next [16]uint32
	code := uint32(0)
	for l := 1; l <= 15; l++ {
		code = (code + uint32(count[l-1])) << 1
		next[l] = code
	}

	// Subtables: for each root-bit prefix of the codes longer than root, the longest code
	// with that prefix sets the subtable's size.
	var subLen [1 << 10]uint8
	if maxLen > root {
		c := next
		for _, l := range lens {
			if uint(l) > root {
				r := reverse(c[l], uint(l))
				c[l]++
				p := r & (1<<root - 1)
				subLen[p] = max(subLen[p], l-uint8(root))
			}
		}
		for p := range 1 << root {
			if s := subLen[p]; s > 0 {
				off := len(h.t)
				h.t = append(h.t, make([]uint32, 1<<s)...)
				h.t[p] = uint32(off)<<16 | uint32(s)<<8
			}
		}
	}

	for sym, l := range lens {
		if l == 0 {
			continue
		}
		r := reverse(next[l], uint(l))
		next[l]++
		e := uint32(sym)<<16 | uint32(l)
		if uint(l) <= root {
			for i := r; i < 1<<root; i += 1 << l {
				h.t[i] = e
			}
			continue
		}
		link := h.t[r&(1<<root-1)]
		sub := h.t[link>>16 : link>>16+1<<(link>>8&0xF)]
		for i := r >> root; i < uint32(len(sub)); i += 1 << (uint(l) - root) {
			sub[i] = e
		}
	}
	if left > 0 {
		return codeIncomplete, maxLen
	}
	return codeOK, maxLen
}

// reverse returns the low n bits of code in reverse order.
func reverse(code uint32, n uint) uint32 {
	return uint32(bits.Reverse16(uint16(code))) >> (16 - n)
}

// Entry kinds of the literal/length table after litEntries, in bits 5-6.
const (
	kindLiteral = 0
	kindLength  = 0x20
	kindEnd     = 0x40
	kindMask    = 0x60
)

// litEntries rewrites the symbol entries of a literal/length table: a literal keeps its byte
// (kindLiteral), the end-of-block code becomes kindEnd, a length symbol becomes
// base<<16 | extra<<8 | kindLength, and the symbols 286 and 287, which the fixed code has but
// no block may use, become invalid entries.
func (h *huffTable) litEntries() {
	for i, e := range h.t {
		n := e & 0x1F
		if n == 0 {
			continue
		}
		switch sym := e >> 16; {
		case sym < 256:
		case sym == 256:
			h.t[i] = kindEnd | n
		case sym < 286:
			h.t[i] = uint32(lenBase[sym-257])<<16 | uint32(lenExtra[sym-257])<<8 | kindLength | n
		default:
			h.t[i] = 0
		}
	}
}

// distEntries rewrites the symbol entries of a distance table to base<<16 | extra<<8 | n; the
// symbols 30 and 31, which the fixed code has but no block may use, become invalid entries.
func (h *huffTable) distEntries() {
	for i, e := range h.t {
		n := e & 0x1F
		if n == 0 {
			continue
		}
		if sym := e >> 16; sym < 30 {
			h.t[i] = uint32(distBase[sym])<<16 | uint32(distExtra[sym])<<8 | n
		} else {
			h.t[i] = 0
		}
	}
}
