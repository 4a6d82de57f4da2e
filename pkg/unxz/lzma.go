package unxz

import "encoding/binary"

// This file is the LZMA decoder proper: a range decoder and the literal/match/rep model of the
// LZMA format, decoding one LZMA2 chunk at a time straight into the output slice.
//
// Speed comes from three things. The range decoder (range, code, input position) is a small
// struct passed and returned by value, so that it lives in registers. The bit trees (literals,
// lengths, distance slots) are decoded without branching on the decoded bits, which the CPU
// cannot predict, and load the next bit's probability for both outcomes before the current bit
// is known. And the input is addressed as a fixed-size array, so reading it needs no bounds
// check. The probability model lives in lzmaDecoder and is addressed through one pointer.

const (
	numStates      = 12
	posBitsMax     = 4
	lenToPosStates = 4
	endPosModel    = 14  // first position slot coded with direct bits + align bits
	numFullDist    = 128 // distances below this are coded with posSpecial's reverse trees
	alignBits      = 4
	matchLenMin    = 2
	probBits       = 11
	probInit       = 1 << probBits / 2
	moveBits       = 5
	rangeTop       = 1 << 24
	literalCoder   = 0x400 // a literal coder's probabilities (0x300 used), a power of two

	// probAdapt0 makes the branch-free update prob - (prob-probAdapt0)>>moveBits (an arithmetic
	// shift) equal prob + (2048-prob)>>moveBits, the update after a 0 bit.
	probAdapt0 = 1<<probBits - (1<<moveBits - 1)
)

// lenDecoder holds the probabilities of one length coder (match lengths or rep lengths).
type lenDecoder struct {
	choice  uint16
	choice2 uint16
	low     [1 << posBitsMax][8]uint16
	mid     [1 << posBitsMax][8]uint16
	high    [256]uint16
}

// lzmaDecoder is the state of the LZMA model that persists across LZMA2 chunks: properties,
// state machine, the four most recent distances and every adaptive probability.
type lzmaDecoder struct {
	lc, lp, pb uint
	dictSize   uint32 // from the LZMA2 filter properties: matches reach back at most this far
	state      uint32
	rep        [4]uint32

	isMatch    [numStates << posBitsMax]uint16
	isRep      [numStates]uint16
	isRepG0    [numStates]uint16
	isRepG1    [numStates]uint16
	isRepG2    [numStates]uint16
	isRep0Long [numStates << posBitsMax]uint16
	posSlot    [lenToPosStates][64]uint16
	posSpecial [1 + numFullDist - endPosModel]uint16
	align      [1 << alignBits]uint16
	matchLen   lenDecoder
	repLen     lenDecoder
	literal    [literalCoder << 4]uint16 // lc+lp <= 4

	in chunkIn // a chunk's input when less than chunkInSize bytes of the block remain
}

// chunkInSize is the largest compressed size of an LZMA2 chunk, a power of two.
const chunkInSize = 1 << 16

// chunkIn holds the compressed data of one LZMA2 chunk, and whatever follows it.
type chunkIn = [chunkInSize]byte

// setProps sets lc, lp and pb from an LZMA properties byte; the caller resets the state after.
// It reports false for a byte that does not encode lc <= 8, lp <= 4, pb <= 4 with lc+lp <= 4.
func (d *lzmaDecoder) setProps(b byte) bool {
	if b >= 9*5*5 {
		return false
	}
	lc := uint(b % 9)
	b /= 9
	lp := uint(b % 5)
	pb := uint(b / 5)
	if lc+lp > 4 {
		return false
	}
	d.lc, d.lp, d.pb = lc, lp, pb
	return true
}

// reset puts every probability back to one half and the state machine to its start.
func (d *lzmaDecoder) reset() {
	d.state = 0
	d.rep = [4]uint32{}
	fill := func(p []uint16) {
		for i := range p {
			p[i] = probInit
		}
	}
	fill(d.isMatch[:])
	fill(d.isRep[:])
	fill(d.isRepG0[:])
	fill(d.isRepG1[:])
	fill(d.isRepG2[:])
	fill(d.isRep0Long[:])
	for i := range d.posSlot {
		fill(d.posSlot[i][:])
	}
	fill(d.posSpecial[:])
	fill(d.align[:])
	for _, l := range []*lenDecoder{&d.matchLen, &d.repLen} {
		l.choice, l.choice2 = probInit, probInit
		for i := range l.low {
			fill(l.low[i][:])
			fill(l.mid[i][:])
		}
		fill(l.high[:])
	}
	fill(d.literal[:literalCoder<<(d.lc+d.lp)])
}

// chunkError says why an LZMA chunk is bad; the caller adds where.
type chunkError string

func (e chunkError) Error() string { return string(e) }

const (
	errFirstByte  chunkError = "range coder's first byte is not 0"
	errDistance   chunkError = "match distance reaches before the start of the dictionary"
	errDictSize   chunkError = "match distance exceeds the dictionary size of the filter properties"
	errEndMarker  chunkError = "end-of-payload marker inside an LZMA2 chunk"
	errMatchSpans chunkError = "match runs past the end of the chunk"
	errTruncated  chunkError = "compressed data ends before the chunk's uncompressed size is reached"
	errTrailing   chunkError = "compressed size does not match the data the chunk decodes from"
	errNotFlushed chunkError = "range coder does not end in a flushed state"
)

// decodeChunk decodes one LZMA chunk, whose n bytes of compressed data (range coder init
// included) start src, into out[pos:len(out)], filling it exactly. out[dictStart:pos] is the
// dictionary: matches may reach back to dictStart and no further, and the position bits count
// from there. src may run on past the chunk; those bytes are read only if the chunk is corrupt.
func (d *lzmaDecoder) decodeChunk(out []byte, pos, dictStart int, src []byte, n int) error {
	if n < 5 {
		return errTruncated
	}
	if src[0] != 0 {
		return errFirstByte
	}
	// Address the input as a fixed-size array indexed modulo its size: no bounds checks and
	// no length to keep in a register. Use src in place when 64 KiB of it remain, else copy.
	var in *chunkIn
	if len(src) >= chunkInSize {
		in = (*chunkIn)(src)
	} else {
		in = &d.in
		copy(in[:], src[:n])
	}
	r := rangeDec{
		rng:  0xFFFFFFFF,
		code: uint32(in[1])<<24 | uint32(in[2])<<16 | uint32(in[3])<<8 | uint32(in[4]),
		ip:   5,
	}
	// From here on, out starts at the dictionary start: positions count from the last
	// dictionary reset, as the position bits do and as far back as matches may reach. Only
	// rep0 and the state are kept in registers; the older distances stay in d.rep.
	out = out[dictStart:]
	pos -= dictStart
	state := d.state
	rep0 := d.rep[0]
	var bit uint32
	for pos < len(out) {
		posState := pos & (1<<d.pb - 1)
		if r, bit = r.normalize(in).bit(&d.isMatch[int(state)<<posBitsMax|posState]); bit == 0 {
			prev := 0
			if pos > 0 {
				prev = int(out[pos-1])
			}
			ctx := (pos&(1<<d.lp-1))<<d.lc + prev>>(8-d.lc)
			probs := (*[literalCoder]uint16)(d.literal[ctx*literalCoder:])
			if state < 7 {
				r, out[pos] = r.literal(in, probs)
			} else {
				r, out[pos] = r.matchedLiteral(in, probs, uint32(out[pos-int(rep0)-1]))
			}
			pos++
			state = nextLiteral[state]
			continue
		}
		var length int
		if r, bit = r.normalize(in).bit(&d.isRep[state]); bit == 0 {
			// A match with a new distance.
			r, length = r.length(in, &d.matchLen, posState)
			var dist uint32
			if r, dist = r.distance(in, d, length); dist == 0xFFFFFFFF {
				return errEndMarker
			}
			d.rep[3], d.rep[2], d.rep[1] = d.rep[2], d.rep[1], rep0
			rep0 = dist
			state = nextMatch[state]
		} else {
			if r, bit = r.normalize(in).bit(&d.isRepG0[state]); bit == 0 {
				if r, bit = r.normalize(in).bit(&d.isRep0Long[int(state)<<posBitsMax|posState]); bit == 0 {
					// Short rep: one byte from distance rep0.
					if int(rep0) >= pos || rep0 >= d.dictSize {
						return d.distanceError(rep0, pos)
					}
					out[pos] = out[pos-int(rep0)-1]
					pos++
					state = nextShortRep[state]
					continue
				}
			} else {
				var dist uint32
				if r, bit = r.normalize(in).bit(&d.isRepG1[state]); bit == 0 {
					dist = d.rep[1]
				} else {
					if r, bit = r.normalize(in).bit(&d.isRepG2[state]); bit == 0 {
						dist = d.rep[2]
					} else {
						dist = d.rep[3]
						d.rep[3] = d.rep[2]
					}
					d.rep[2] = d.rep[1]
				}
				d.rep[1] = rep0
				rep0 = dist
			}
			r, length = r.length(in, &d.repLen, posState)
			state = nextRep[state]
		}

		// Copy length bytes from distance rep0.
		if int(rep0) >= pos || rep0 >= d.dictSize {
			return d.distanceError(rep0, pos)
		}
		if length > len(out)-pos {
			return errMatchSpans
		}
		from := pos - int(rep0) - 1
		switch {
		case rep0 >= 7 && len(out)-pos >= length+7:
			// Eight bytes at a time, possibly writing up to 7 bytes past the match (inside
			// the chunk, to be overwritten). A distance of at least 8 makes every load
			// read bytes already final.
			for i := 0; i < length; i += 8 {
				binary.LittleEndian.PutUint64(out[pos+i:], binary.LittleEndian.Uint64(out[from+i:]))
			}
		case int(rep0) >= length:
			copy(out[pos:pos+length], out[from:from+length])
		default:
			for i := range length {
				out[pos+i] = out[from+i]
			}
		}
		pos += length
	}
	// Normalize once more so the chunk's last input byte is consumed, as the encoder's flush
	// wrote it; a well-formed chunk then ends exactly here with code 0.
	r = r.normalize(in)
	if r.ip > n {
		return errTruncated
	}
	if r.ip != n {
		return errTrailing
	}
	if r.code != 0 {
		return errNotFlushed
	}
	d.state = state
	d.rep[0] = rep0
	return nil
}

// distanceError says which bound the match distance rep0+1 at pos broke.
func (d *lzmaDecoder) distanceError(rep0 uint32, pos int) error {
	if rep0 >= d.dictSize {
		return errDictSize
	}
	return errDistance
}

// State transitions after each kind of symbol.
var (
	nextLiteral  = [numStates]uint32{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 4, 5}
	nextMatch    = [numStates]uint32{7, 7, 7, 7, 7, 7, 7, 10, 10, 10, 10, 10}
	nextRep      = [numStates]uint32{8, 8, 8, 8, 8, 8, 8, 11, 11, 11, 11, 11}
	nextShortRep = [numStates]uint32{9, 9, 9, 9, 9, 9, 9, 11, 11, 11, 11, 11}
)

// rangeDec is the range decoder. It is passed and returned by value so that its three words stay
// in registers across the small decoding functions below, which the compiler cannot do for a
// struct reached through a pointer.
type rangeDec struct {
	rng, code uint32
	ip        int // next byte of the chunk's input
}

// normalize shifts in the next input byte when the range has dropped below 2^24. Past the end
// of the chunk it shifts in whatever follows (in wraps around); the end check then fails.
func (r rangeDec) normalize(in *chunkIn) rangeDec {
	if r.rng < rangeTop {
		r.rng <<= 8
		r.code <<= 8
		r.code |= uint32(in[r.ip&(chunkInSize-1)])
		r.ip++
	}
	return r
}

// bit decodes one bit with probability *p (of a 0, in 1/2048) and adapts *p. The range must
// be normalized first (r.normalize(in).bit(p)): split so that both inline.
func (r rangeDec) bit(p *uint16) (rangeDec, uint32) {
	prob := uint32(*p)
	bound := (r.rng >> probBits) * prob
	if r.code < bound {
		r.rng = bound
		*p = uint16(prob + (1<<probBits-prob)>>moveBits)
		return r, 0
	}
	r.rng -= bound
	r.code -= bound
	*p = uint16(prob - prob>>moveBits)
	return r, 1
}

// decide decodes one bit with probability prob without branching on it: it returns the new
// probability and the bit's mask (all ones for a 0 bit, 0 for a 1 bit). The range must be
// normalized first.
func (r rangeDec) decide(prob uint32) (rangeDec, uint32, uint32) {
	bound := (r.rng >> probBits) * prob
	mask := uint32((int64(r.code) - int64(bound)) >> 63)
	t := r.rng - bound
	r.rng = t ^ (t^bound)&mask
	r.code -= bound &^ mask
	return r, prob - uint32(int32(prob-(probAdapt0&mask))>>moveBits), mask
}

// literal decodes a literal byte with the 8-bit tree probs.
func (r rangeDec) literal(in *chunkIn, probs *[literalCoder]uint16) (rangeDec, byte) {
	sym := uint32(1)
	prob := uint32(probs[1])
	for sym < 0x100 {
		// Load both children's probabilities while this bit is decoded, so that the next
		// bit does not wait for a load that depends on this one.
		p0, p1 := uint32(probs[2*sym&(literalCoder-1)]), uint32(probs[(2*sym+1)&(literalCoder-1)])
		var np, mask uint32
		r, np, mask = r.normalize(in).decide(prob)
		probs[sym] = uint16(np)
		sym = sym<<1 | (mask + 1)
		prob = p1 ^ (p0^p1)&mask
	}
	return r, byte(sym)
}

// matchedLiteral decodes a literal after a match: while the decoded bits agree with match (the
// byte at distance rep0), each bit uses the probabilities selected by match's next bit.
func (r rangeDec) matchedLiteral(in *chunkIn, probs *[literalCoder]uint16, match uint32) (rangeDec, byte) {
	sym := uint32(1)
	offset := uint32(0x100) // 0x100 while the bits agree with match's, then 0
	match <<= 1
	idx := offset + match&offset + sym
	prob := uint32(probs[idx&(literalCoder-1)])
	for sym < 0x100 {
		// As in literal, load the next bit's probability for both outcomes now.
		mbit := match & offset
		match <<= 1
		off0, off1 := offset&^mbit, offset&mbit
		idx0 := off0 + match&off0 + sym<<1
		idx1 := off1 + match&off1 + sym<<1 + 1
		p0, p1 := uint32(probs[idx0&(literalCoder-1)]), uint32(probs[idx1&(literalCoder-1)])
		var np, mask uint32
		r, np, mask = r.normalize(in).decide(prob)
		probs[idx&(literalCoder-1)] = uint16(np)
		sym = sym<<1 | (mask + 1)
		offset = off1 ^ (off0^off1)&mask
		idx = idx1 ^ (idx0^idx1)&mask
		prob = p1 ^ (p0^p1)&mask
	}
	return r, byte(sym)
}

// tree decodes an nbits-bit symbol with the bit tree probs (1<<nbits entries, 0 unused).
func (r rangeDec) tree(in *chunkIn, probs []uint16, nbits uint) (rangeDec, uint32) {
	lim := uint32(1) << nbits
	sym := uint32(1)
	prob := uint32(probs[1])
	for sym < lim {
		// As in literal, load both children's probabilities early (past the leaves, the
		// index wraps around to an unused load).
		p0, p1 := uint32(probs[(2*sym)&(lim-1)]), uint32(probs[(2*sym+1)&(lim-1)])
		var np, mask uint32
		r, np, mask = r.normalize(in).decide(prob)
		probs[sym] = uint16(np)
		sym = sym<<1 | (mask + 1)
		prob = p1 ^ (p0^p1)&mask
	}
	return r, sym - lim
}

// reverse decodes an nbits-bit symbol with the bit tree probs, least significant bit first.
func (r rangeDec) reverse(in *chunkIn, probs []uint16, nbits uint32) (rangeDec, uint32) {
	m := uint32(1)
	sym := uint32(0)
	for i := range nbits {
		var np, mask uint32
		r, np, mask = r.normalize(in).decide(uint32(probs[m]))
		probs[m] = uint16(np)
		bit := mask + 1
		m = m<<1 | bit
		sym |= bit << i
	}
	return r, sym
}

// tree3 decodes a 3-bit symbol with the bit tree p. All seven probabilities are loaded first,
// so that no bit waits for a load that depends on the bit before.
func (r rangeDec) tree3(in *chunkIn, p *[8]uint16) (rangeDec, uint32) {
	p1, p2, p3 := uint32(p[1]), uint32(p[2]), uint32(p[3])
	p4, p5, p6, p7 := uint32(p[4]), uint32(p[5]), uint32(p[6]), uint32(p[7])
	var np, m0, m1, m2 uint32
	r, np, m0 = r.normalize(in).decide(p1)
	p[1] = uint16(np)
	// Second level: node 2 after a 0, node 3 after a 1.
	q := p3 ^ (p2^p3)&m0
	i := 3 + m0 // 2 or 3 (m0 is all ones for a 0 bit)
	r, np, m1 = r.normalize(in).decide(q)
	p[i&7] = uint16(np)
	// Third level: node 2*i + bit.
	a := p5 ^ (p4^p5)&m1 // children of node 2
	b := p7 ^ (p6^p7)&m1 // children of node 3
	q = b ^ (a^b)&m0
	j := 2*i + 1 + m1
	r, np, m2 = r.normalize(in).decide(q)
	p[j&7] = uint16(np)
	return r, (2*j + 1 + m2) & 7 // the leaf 2*j + bit, minus 8
}

// length decodes a match length (2-273) with the length coder ld.
func (r rangeDec) length(in *chunkIn, ld *lenDecoder, posState int) (rangeDec, int) {
	var bit, sym uint32
	if r, bit = r.normalize(in).bit(&ld.choice); bit == 0 {
		r, sym = r.tree3(in, &ld.low[posState])
		return r, int(sym) + matchLenMin
	}
	if r, bit = r.normalize(in).bit(&ld.choice2); bit == 0 {
		r, sym = r.tree3(in, &ld.mid[posState])
		return r, int(sym) + matchLenMin + 8
	}
	r, sym = r.tree(in, ld.high[:], 8)
	return r, int(sym) + matchLenMin + 16
}

// distance decodes the distance (minus one) of a match of the given length: a 6-bit slot, then
// reverse-coded low bits, or direct bits and 4 reverse-coded align bits.
func (r rangeDec) distance(in *chunkIn, d *lzmaDecoder, length int) (rangeDec, uint32) {
	lenState := min(length-matchLenMin, lenToPosStates-1)
	var slot uint32
	r, slot = r.tree(in, d.posSlot[lenState][:], 6)
	if slot < 4 {
		return r, slot
	}
	ndirect := slot>>1 - 1
	dist := 2 | slot&1
	var low uint32
	if slot < endPosModel {
		dist <<= ndirect
		r, low = r.reverse(in, d.posSpecial[dist-slot:], ndirect)
		return r, dist + low
	}
	for range ndirect - alignBits {
		r = r.normalize(in)
		r.rng >>= 1
		r.code -= r.rng
		mask := 0 - r.code>>31 // all ones when code went "negative": a 0 bit
		r.code += r.rng & mask
		dist = dist<<1 | (mask + 1)
	}
	r, low = r.reverse(in, d.align[:], alignBits)
	return r, dist<<alignBits | low
}
