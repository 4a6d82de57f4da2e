package ungzip

import (
	"encoding/binary"
	"sync"
)

// Length and distance symbols (RFC 1951, 3.2.5): base value and number of extra bits.
var (
	lenBase = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51,
		59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
		5, 5, 5, 5, 0}
	distBase = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385,
		513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10,
		10, 11, 11, 12, 12, 13, 13}
	// clOrder is the order in which the code length code's lengths are sent (3.2.7).
	clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

const (
	litRoot  = 10 // primary table bits of the literal/length code
	distRoot = 8  // primary table bits of the distance code
)

var (
	fixedOnce           sync.Once
	fixedLit, fixedDist huffTable
)

// fixedTables returns the tables of the fixed Huffman codes (3.2.6), built on first use.
func fixedTables() (*huffTable, *huffTable) {
	fixedOnce.Do(func() {
		var lens [288]uint8
		for i := range lens {
			switch {
			case i < 144:
				lens[i] = 8
			case i < 256:
				lens[i] = 9
			case i < 280:
				lens[i] = 7
			default:
				lens[i] = 8
			}
		}
		fixedLit.build(lens[:], litRoot)
		fixedLit.litEntries()
		for i := range 32 {
			lens[i] = 5
		}
		fixedDist.build(lens[:32], distRoot)
		fixedDist.distEntries()
	})
	return &fixedLit, &fixedDist
}

// inflater decodes one DEFLATE stream of src into out. It reads src through a 64-bit bit
// buffer: pos is the next byte of src to load, and may pass len(src) by the zero bytes that
// are loaded at the end of the input; consuming any of those bits is a truncation.
type inflater struct {
	src  []byte
	pos  int
	bits uint64
	nb   uint // valid bits in bits

	out   []byte // the output buffer: bytes [0:n] are written, len(out) == cap(out)
	n     int
	base  int // where the current member's output starts in out
	limit int

	lit, dist, cl huffTable
	lens          [286 + 30]uint8
}

var inflaterPool = sync.Pool{New: func() any { return new(inflater) }}

// offset returns the offset in src of the byte holding the next unread bit.
func (f *inflater) offset() int {
	return f.pos - int(f.nb+7)/8
}

// refill loads bytes until at least 56 bits are buffered, and fails if bits past the end of
// src have been consumed.
func (f *inflater) refill() error {
	if f.pos+8 <= len(f.src) {
		f.bits |= binary.LittleEndian.Uint64(f.src[f.pos:]) << f.nb
		f.pos += int(63-f.nb) >> 3
		f.nb |= 56
		return nil
	}
	for f.nb <= 56 {
		if f.pos < len(f.src) {
			f.bits |= uint64(f.src[f.pos]) << f.nb
		}
		f.pos++
		f.nb += 8
	}
	if over := f.pos - len(f.src); over > 0 && uint(over)*8 > f.nb {
		return corruptf(len(f.src), "truncated DEFLATE stream")
	}
	return nil
}

// getBits consumes and returns n <= 32 bits.
func (f *inflater) getBits(n uint) (uint32, error) {
	if f.nb < n {
		if err := f.refill(); err != nil {
			return 0, err
		}
	}
	v := uint32(f.bits & (1<<n - 1))
	f.bits >>= n
	f.nb -= n
	// A refill may have loaded padding that was not yet consumed; consuming it is caught
	// here.
	if over := f.pos - len(f.src); over > 0 && uint(over)*8 > f.nb {
		return 0, corruptf(len(f.src), "truncated DEFLATE stream")
	}
	return v, nil
}

// decodeSym decodes one symbol of h (slowly: for block headers).
func (f *inflater) decodeSym(h *huffTable, what string) (uint32, error) {
	if f.nb < 15 {
		if err := f.refill(); err != nil {
			return 0, err
		}
	}
	off := f.offset()
	e := h.t[f.bits&(1<<h.root-1)]
	if e&0x1F == 0 && e != 0 {
		e = h.t[e>>16+uint32(f.bits>>h.root)&(1<<(e>>8&0xF)-1)]
	}
	if e == 0 {
		return 0, corruptf(off, "invalid %s code", what)
	}
	if _, err := f.getBits(uint(e & 0x1F)); err != nil {
		return 0, err
	}
	return e >> 16, nil
}

// inflate decodes the DEFLATE stream starting at src[start:] and returns the offset of the
// first byte after it (the stream ends on a byte boundary).
func (f *inflater) inflate(start int) (int, error) {
	f.pos, f.bits, f.nb = start, 0, 0
	for {
		hdr, err := f.getBits(3)
		if err != nil {
			return 0, err
		}
		switch hdr >> 1 {
		case 0:
			err = f.stored()
		case 1:
			lit, dist := fixedTables()
			err = f.huffman(lit, dist)
		case 2:
			if err = f.dynamic(); err == nil {
				err = f.huffman(&f.lit, &f.dist)
			}
		default:
			err = corruptf(f.offset(), "reserved DEFLATE block type 3")
		}
		if err != nil {
			return 0, err
		}
		if hdr&1 != 0 {
			break
		}
	}
	// Drop the bits up to the byte boundary, and give back the whole bytes still buffered.
	f.bits >>= f.nb & 7
	f.nb &^= 7
	end := f.pos - int(f.nb/8)
	f.pos, f.bits, f.nb = end, 0, 0
	if end > len(f.src) {
		return 0, corruptf(len(f.src), "truncated DEFLATE stream")
	}
	return end, nil
}

// stored copies a stored block (3.2.4).
func (f *inflater) stored() error {
	f.bits >>= f.nb & 7
	f.nb &^= 7
	p := f.pos - int(f.nb/8)
	f.pos, f.bits, f.nb = p, 0, 0
	if p+4 > len(f.src) {
		return corruptf(min(p, len(f.src)), "truncated stored block header")
	}
	n := int(binary.LittleEndian.Uint16(f.src[p:]))
	if nn := binary.LittleEndian.Uint16(f.src[p+2:]); uint16(n) != ^nn {
		return corruptf(p, "stored block length %#04x does not match its complement %#04x", n, nn)
	}
	p += 4
	if p+n > len(f.src) {
		return corruptf(p, "stored block of %d bytes truncated to %d", n, len(f.src)-p)
	}
	if err := f.grow(n, p); err != nil {
		return err
	}
	f.n += copy(f.out[f.n:], f.src[p:p+n])
	f.pos = p + n
	return nil
}

// grow makes room in out for k more bytes, failing when the output would exceed the limit.
// off is the input offset to name in the error.
func (f *inflater) grow(k, off int) error {
	if f.n+k <= len(f.out) {
		return nil
	}
	if f.n+k > f.limit {
		return tooLargef(off, "output exceeds the limit of %d bytes", f.limit)
	}
	size := min(max(2*len(f.out), f.n+k, 4096), f.limit)
	out := make([]byte, size)
	copy(out, f.out[:f.n])
	f.out = out
	return nil
}

// dynamic reads the code lengths of a dynamic block (3.2.7) and builds f.lit and f.dist.
func (f *inflater) dynamic() error {
	off := f.offset()
	v, err := f.getBits(14)
	if err != nil {
		return err
	}
	nlit := int(v&0x1F) + 257
	ndist := int(v>>5&0x1F) + 1
	nclen := int(v>>10) + 4
	if nlit > 286 || ndist > 30 {
		return corruptf(off, "dynamic block with %d literal/length and %d distance codes "+
			"(at most 286 and 30)", nlit, ndist)
	}
	var cl [19]uint8
	for i := range nclen {
		l, err := f.getBits(3)
		if err != nil {
			return err
		}
		cl[clOrder[i]] = uint8(l)
	}
	// zlib refuses every incomplete code length code. compress/flate and gzip(1) accept one
	// with a single 1-bit code, but no block can use it: the one length it sends (or repeats)
	// cannot make a valid literal/length code.
	if res, _ := f.cl.build(cl[:], 7); res != codeOK {
		return corruptf(off, "%s code length code", resultName(res))
	}

	lens := f.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		off := f.offset()
		sym, err := f.decodeSym(&f.cl, "code length")
		if err != nil {
			return err
		}
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var val uint8
		switch sym {
		case 16:
			if i == 0 {
				return corruptf(off, "code length repeat with no previous length")
			}
			val = lens[i-1]
			v, err = f.getBits(2)
			rep = 3 + int(v)
		case 17:
			v, err = f.getBits(3)
			rep = 3 + int(v)
		default:
			v, err = f.getBits(7)
			rep = 11 + int(v)
		}
		if err != nil {
			return err
		}
		if i+rep > len(lens) {
			return corruptf(off, "code length repeat past the %d lengths", len(lens))
		}
		for range rep {
			lens[i] = val
			i++
		}
	}
	if lens[256] == 0 {
		return corruptf(off, "dynamic block without an end-of-block code")
	}
	if res, maxLen := f.lit.build(lens[:nlit], litRoot); res != codeOK &&
		!(res == codeIncomplete && maxLen == 1) {
		return corruptf(off, "%s literal/length code", resultName(res))
	}
	f.lit.litEntries()
	// An empty distance code is valid for a block of literals only (zlib agrees).
	if res, maxLen := f.dist.build(lens[nlit:], distRoot); res != codeOK && res != codeEmpty &&
		!(res == codeIncomplete && maxLen == 1) {
		return corruptf(off, "%s distance code", resultName(res))
	}
	f.dist.distEntries()
	return nil
}

func resultName(res int) string {
	switch res {
	case codeEmpty:
		return "empty"
	case codeIncomplete:
		return "incomplete"
	case codeOversubscribed:
		return "over-subscribed"
	}
	return "valid"
}

// huffman decodes the symbols of a compressed block (3.2.5) up to its end-of-block code. The
// bit buffer and output live in local variables for speed; every path out stores them back.
func (f *inflater) huffman(lt, dt *huffTable) error {
	src := f.src
	bits, nb, pos := f.bits, f.nb, f.pos
	out, n := f.out, f.n
	lmask, dmask := uint64(1)<<lt.root-1, uint64(1)<<dt.root-1
	lroot, droot := lt.root, dt.root
	ltab, dtab := lt.t, dt.t
	base := f.base
	for {
		// Refill to at least 56 bits: enough for a length code (15 bits), its extra bits (5),
		// a distance code (15) and its extra bits (13).
		if pos+8 <= len(src) {
			bits |= binary.LittleEndian.Uint64(src[pos:]) << nb
			pos += int(63-nb) >> 3
			nb |= 56
		} else {
			for nb <= 56 {
				if pos < len(src) {
					bits |= uint64(src[pos]) << nb
				}
				pos++
				nb += 8
			}
			if over := pos - len(src); over > 0 && uint(over)*8 > nb {
				return corruptf(len(src), "truncated DEFLATE stream")
			}
		}

		e := ltab[bits&lmask]
		if e&0x1F == 0 {
			if e != 0 {
				e = ltab[e>>16+uint32(bits>>lroot)&(1<<(e>>8&0xF)-1)]
			}
			if e == 0 {
				return corruptf(pos-int(nb+7)/8, "invalid literal/length code")
			}
		}
		bits >>= e & 0x1F
		nb -= uint(e & 0x1F)
		if e&kindMask == kindLiteral {
			if n >= len(out) {
				f.out, f.n = out, n
				if err := f.grow(1, pos-int(nb+7)/8); err != nil {
					return err
				}
				out = f.out
			}
			out[n] = byte(e >> 16)
			n++
			continue
		}
		if e&kindEnd != 0 {
			f.bits, f.nb, f.pos, f.out, f.n = bits, nb, pos, out, n
			return nil
		}
		xb := e >> 8 & 0xF
		length := int(e>>16) + int(bits&(1<<xb-1))
		bits >>= xb
		nb -= uint(xb)

		e = dtab[bits&dmask]
		if e&0x1F == 0 {
			if e != 0 {
				e = dtab[e>>16+uint32(bits>>droot)&(1<<(e>>8&0xF)-1)]
			}
			if e == 0 {
				return corruptf(pos-int(nb+7)/8, "invalid distance code")
			}
		}
		bits >>= e & 0x1F
		nb -= uint(e & 0x1F)
		xb = e >> 8 & 0xF
		dist := int(e>>16) + int(bits&(1<<xb-1))
		bits >>= xb
		nb -= uint(xb)

		if dist > n-base {
			return corruptf(pos-int(nb+7)/8, "match distance %d reaches before the start of "+
				"the member's output (%d bytes)", dist, n-base)
		}
		if n+length > len(out) {
			f.out, f.n = out, n
			if err := f.grow(length, pos-int(nb+7)/8); err != nil {
				return err
			}
			out = f.out
		}
		if dist >= 8 && n+length+8 <= len(out) {
			// Eight bytes at a time, each read from bytes already written (dist >= 8); the
			// last store may write up to 7 bytes past the match, which later output
			// overwrites.
			s := out[n-dist : n+length+8]
			d := out[n : n+length+8]
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(d[i:], binary.LittleEndian.Uint64(s[i:]))
			}
			n += length
		} else if dist >= length {
			copy(out[n:n+length], out[n-dist:n])
			n += length
		} else if dist == 1 {
			b := out[n-1]
			s := out[n : n+length]
			for i := range s {
				s[i] = b
			}
			n += length
		} else {
			// Overlapping: the source window grows with every copy, doubling each time.
			s := n - dist
			end := n + length
			for n < end {
				n += copy(out[n:end], out[s:n])
			}
		}
	}
}
