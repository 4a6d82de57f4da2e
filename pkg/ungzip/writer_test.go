package ungzip

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

// This file builds gzip members and DEFLATE blocks by hand, bit by bit, so the tests can make
// every structure the format has, valid or not, whether or not an encoder would write it.

// bitWriter writes a DEFLATE bit stream, least significant bit first.
type bitWriter struct {
	buf  []byte
	acc  uint64
	nacc uint
}

// bits writes the n low bits of v.
func (w *bitWriter) bits(v uint64, n uint) *bitWriter {
	w.acc |= (v & (1<<n - 1)) << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
	return w
}

// code writes a Huffman code c of n bits, most significant bit first.
func (w *bitWriter) code(c code) *bitWriter {
	return w.bits(uint64(bits.Reverse16(uint16(c.bits))>>(16-c.n)), c.n)
}

// align pads with zero bits to a byte boundary.
func (w *bitWriter) align() *bitWriter {
	if w.nacc > 0 {
		w.bits(0, 8-w.nacc)
	}
	return w
}

func (w *bitWriter) bytes() []byte {
	w.align()
	return w.buf
}

// code is one canonical Huffman code.
type code struct {
	bits uint32
	n    uint
}

// canonical returns the canonical codes of the code lengths (RFC 1951, 3.2.2), whether or
// not they form a valid code.
func canonical(lens []uint8) []code {
	var count [16]uint32
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	var next [16]uint32
	c := uint32(0)
	for l := 1; l < 16; l++ {
		c = (c + count[l-1]) << 1
		next[l] = c
	}
	codes := make([]code, len(lens))
	for s, l := range lens {
		if l > 0 {
			codes[s] = code{next[l], uint(l)}
			next[l]++
		}
	}
	return codes
}

// fixedCodes are the fixed literal/length and distance codes (3.2.6).
func fixedCodes() (lit, dist []code) {
	lens := make([]uint8, 288)
	for i := range lens {
		lens[i] = map[bool]uint8{true: 8, false: 9}[i < 144 || i >= 280]
		if i >= 256 && i < 280 {
			lens[i] = 7
		}
	}
	d := make([]uint8, 32)
	for i := range d {
		d[i] = 5
	}
	return canonical(lens), canonical(d)
}

// tok is a literal (dist == 0) or a match.
type tok struct {
	lit          byte
	length, dist int
}

func lits(s string) []tok {
	var t []tok
	for i := range len(s) {
		t = append(t, tok{lit: s[i]})
	}
	return t
}

func match(length, dist int) tok { return tok{length: length, dist: dist} }

// symbols writes the tokens with the codes lit and dist, then the end-of-block code.
func (w *bitWriter) symbols(lit, dist []code, toks []tok) *bitWriter {
	for _, t := range toks {
		if t.dist == 0 {
			w.code(lit[t.lit])
			continue
		}
		s := 0
		for s+1 < 29 && int(lenBase[s+1]) <= t.length {
			s++
		}
		w.code(lit[257+s]).bits(uint64(t.length-int(lenBase[s])), uint(lenExtra[s]))
		d := 0
		for d+1 < 30 && int(distBase[d+1]) <= t.dist {
			d++
		}
		w.code(dist[d]).bits(uint64(t.dist-int(distBase[d])), uint(distExtra[d]))
	}
	return w.code(lit[256])
}

// stored writes a stored block with data.
func (w *bitWriter) stored(final bool, data []byte) *bitWriter {
	w.bits(b2u(final), 1).bits(0, 2).align()
	var h [4]byte
	binary.LittleEndian.PutUint16(h[:], uint16(len(data)))
	binary.LittleEndian.PutUint16(h[2:], ^uint16(len(data)))
	w.buf = append(append(w.buf, h[:]...), data...)
	return w
}

// fixed writes a block with the fixed codes.
func (w *bitWriter) fixed(final bool, toks []tok) *bitWriter {
	lit, dist := fixedCodes()
	return w.bits(b2u(final), 1).bits(1, 2).symbols(lit, dist, toks)
}

// clLens is a complete code length code: 0-15 get 5 bits, 16 two, 17 and 18 three.
var clLens = []uint8{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 2, 3, 3}

// clSym is a code length symbol with its extra bits.
type clSym struct {
	sym   int
	extra uint64
}

// dynHeader writes a dynamic block header: nlit and ndist, the code length code's lengths cl
// (by symbol, sent in clOrder for nclen entries), and the code length symbols syms.
func (w *bitWriter) dynHeader(final bool, nlit, ndist, nclen int, cl []uint8, syms []clSym) *bitWriter {
	w.bits(b2u(final), 1).bits(2, 2)
	w.bits(uint64(nlit-257), 5).bits(uint64(ndist-1), 5).bits(uint64(nclen-4), 4)
	for i := range nclen {
		w.bits(uint64(cl[clOrder[i]]), 3)
	}
	codes := canonical(cl)
	for _, s := range syms {
		w.code(codes[s.sym])
		switch s.sym {
		case 16:
			w.bits(s.extra, 2)
		case 17:
			w.bits(s.extra, 3)
		case 18:
			w.bits(s.extra, 7)
		}
	}
	return w
}

// plainSyms returns the code length symbols that send lens one by one.
func plainSyms(lens []uint8) []clSym {
	s := make([]clSym, len(lens))
	for i, l := range lens {
		s[i] = clSym{sym: int(l)}
	}
	return s
}

// dynamic writes a dynamic block whose codes have the lengths lit and dist.
func (w *bitWriter) dynamic(final bool, lit, dist []uint8, toks []tok) *bitWriter {
	w.dynHeader(final, len(lit), len(dist), 19, clLens, plainSyms(append(append([]uint8(nil),
		lit...), dist...)))
	return w.symbols(canonical(lit), canonical(dist), toks)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// hdr describes a gzip member header.
type hdr struct {
	flags   byte
	cm      byte // 0 means 8
	extra   []byte
	name    string
	comment string
	badHCRC bool
}

// member returns a gzip member with header h, DEFLATE data, and the trailer of content.
func member(h hdr, deflate, content []byte) []byte {
	cm := h.cm
	if cm == 0 {
		cm = 8
	}
	b := []byte{0x1F, 0x8B, cm, h.flags, 1, 2, 3, 4, 0, 3}
	if h.flags&flagExtra != 0 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(h.extra)))
		b = append(b, h.extra...)
	}
	if h.flags&flagName != 0 {
		b = append(append(b, h.name...), 0)
	}
	if h.flags&flagComment != 0 {
		b = append(append(b, h.comment...), 0)
	}
	if h.flags&flagHCRC != 0 {
		c := uint16(crc32.ChecksumIEEE(b))
		if h.badHCRC {
			c ^= 1
		}
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	b = append(b, deflate...)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(content))
	return binary.LittleEndian.AppendUint32(b, uint32(len(content)))
}

// simple returns a member holding s in one fixed block.
func simple(s string) []byte {
	return member(hdr{}, new(bitWriter).fixed(true, lits(s)).bytes(), []byte(s))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}
