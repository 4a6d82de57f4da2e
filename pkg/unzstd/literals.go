package unzstd

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// literals decodes the literals section that starts at src[pos] in a compressed block ending
// at src[end]. It returns the literals and the position after the section. The literals' capacity
// reaches at least wildCopySlack bytes past their length (into the input or into d.litBuf),
// so the sequence executor may copy them in 16-byte chunks.
func (d *decoder) literals(pos, end int) ([]byte, int, error) {
	src := d.src[:end]
	start := pos
	b0 := src[pos]
	ltype := b0 & 3
	format := (b0 >> 2) & 3
	if ltype < 2 { // Raw_Literals_Block, RLE_Literals_Block
		var size, h int
		switch format {
		case 0, 2:
			size, h = int(b0>>3), 1
		case 1:
			if end-pos < 2 {
				return nil, 0, corruptf(start, "literals section header truncated")
			}
			size, h = int(b0>>4)|int(src[pos+1])<<4, 2
		case 3:
			if end-pos < 3 {
				return nil, 0, corruptf(start, "literals section header truncated")
			}
			size, h = int(b0>>4)|int(src[pos+1])<<4|int(src[pos+2])<<12, 3
		}
		if size > d.blockMax {
			return nil, 0, corruptf(start, "%d literals exceed the block maximum %d", size, d.blockMax)
		}
		pos += h
		if ltype == 0 {
			d.note("lit/raw")
			if end-pos < size {
				return nil, 0, corruptf(start, "%d raw literals truncated to %d", size, end-pos)
			}
			// Cap to the whole input so that the executor's 16-byte reads stay in bounds.
			return d.src[pos : pos+size : len(d.src)], pos + size, nil
		}
		if pos >= end {
			return nil, 0, corruptf(start, "RLE literals byte missing")
		}
		d.note("lit/rle")
		lits := d.litBuffer()[:size]
		fill(lits, src[pos])
		return lits, pos + 1, nil
	}

	// Compressed_Literals_Block, Treeless_Literals_Block.
	var regen, csize, h int
	switch format {
	case 0, 1:
		if end-pos < 3 {
			return nil, 0, corruptf(start, "literals section header truncated")
		}
		v := int(b0>>4) | int(src[pos+1])<<4 | int(src[pos+2])<<12
		regen, csize, h = v&0x3FF, v>>10, 3
	case 2:
		if end-pos < 4 {
			return nil, 0, corruptf(start, "literals section header truncated")
		}
		v := int(b0>>4) | int(src[pos+1])<<4 | int(src[pos+2])<<12 | int(src[pos+3])<<20
		regen, csize, h = v&0x3FFF, v>>14, 4
	case 3:
		if end-pos < 5 {
			return nil, 0, corruptf(start, "literals section header truncated")
		}
		// 36 bits: computed in 64 bits so that 32-bit platforms do not overflow.
		v := uint64(b0>>4) | uint64(src[pos+1])<<4 | uint64(src[pos+2])<<12 |
			uint64(src[pos+3])<<20 | uint64(src[pos+4])<<28
		regen, csize, h = int(v&0x3FFFF), int(v>>18), 5
	}
	if regen > d.blockMax {
		return nil, 0, corruptf(start, "%d literals exceed the block maximum %d", regen, d.blockMax)
	}
	pos += h
	if end-pos < csize {
		return nil, 0, corruptf(start, "%d bytes of compressed literals truncated to %d", csize,
			end-pos)
	}
	in := src[pos : pos+csize]
	inOff := pos
	if ltype == 2 {
		n, err := d.readHuffTable(in, pos)
		if err != nil {
			return nil, 0, err
		}
		d.haveHuff = true
		in = in[n:]
		inOff += n
	} else if !d.haveHuff {
		return nil, 0, corruptf(start, "treeless literals without an earlier Huffman table")
	}
	lits := d.litBuffer()[:regen]
	var err error
	if d.census != nil {
		d.note(fmt.Sprintf("lit/%s%d", [4]string{2: "huffman", 3: "treeless"}[ltype],
			[4]int{1, 4, 4, 4}[format]))
	}
	if format == 0 {
		err = d.huff.decode1(lits, in, inOff)
	} else {
		err = d.huff.decode4(lits, in, inOff)
	}
	if err != nil {
		return nil, 0, err
	}
	return lits, pos + csize, nil
}

// litBuffer returns the literals buffer, allocating it on first use.
func (d *decoder) litBuffer() []byte {
	if d.litBuf == nil {
		d.litBuf = make([]byte, maxBlockSize+wildCopySlack)
	}
	return d.litBuf
}

// huffTable is a Huffman decoding table: indexed by the next 11 bits of a stream (the longest
// code there can be, whatever the table's own maximum), an entry holds the symbol in its low
// byte and the code length in its high byte. A constant index width lets the decoder shift by
// a constant and the compiler drop the bounds checks.
type huffTable struct {
	dt [1 << maxHuffmanBits]uint16
}

// huffShift turns a stream window (next bits at the top) into a table index.
const huffShift = 64 - maxHuffmanBits

// readHuffTable reads the Huffman tree description at the start of in (at src offset off) into
// d.huff and returns its length.
func (d *decoder) readHuffTable(in []byte, off int) (int, error) {
	if len(in) == 0 {
		return 0, corruptf(off, "Huffman tree description missing")
	}
	var weights [256]uint8
	var nw, n int
	if hb := int(in[0]); hb >= 128 {
		nw = hb - 127
		n = 1 + (nw+1)/2
		if n > len(in) {
			return 0, corruptf(off, "Huffman weights truncated: need %d bytes, have %d", n, len(in))
		}
		d.note("huff/direct")
		for i := 0; i < nw; i++ {
			b := in[1+i/2]
			if i&1 == 0 {
				b >>= 4
			}
			weights[i] = b & 15
		}
	} else {
		n = 1 + hb
		if n > len(in) {
			return 0, corruptf(off, "FSE-compressed Huffman weights truncated: need %d bytes, have %d",
				n, len(in))
		}
		d.note("huff/fse")
		var err error
		nw, err = d.fseWeights(in[1:n], &weights, off+1)
		if err != nil {
			return 0, err
		}
	}

	var rank [16]int
	total := 0
	for _, w := range weights[:nw] {
		if w > maxHuffmanBits {
			return 0, corruptf(off, "Huffman weight %d exceeds %d", w, maxHuffmanBits)
		}
		rank[w]++
		if w > 0 {
			total += 1 << (w - 1)
		}
	}
	if total == 0 {
		return 0, corruptf(off, "Huffman weights are all zero")
	}
	maxBits := bits.Len(uint(total))
	if maxBits > maxHuffmanBits {
		return 0, corruptf(off, "Huffman codes of %d bits exceed %d", maxBits, maxHuffmanBits)
	}
	rest := 1<<maxBits - total
	if rest&(rest-1) != 0 {
		return 0, corruptf(off, "Huffman weights leave %d, not a power of two, for the last symbol",
			rest)
	}
	last := bits.Len(uint(rest))
	weights[nw] = uint8(last)
	rank[last]++
	nw++
	if rank[1] < 2 || rank[1]&1 != 0 {
		return 0, corruptf(off, "Huffman weights give %d symbols of weight 1, want an even number >= 2",
			rank[1])
	}

	var next [maxHuffmanBits + 1]int
	p := 0
	for w := 1; w <= maxBits; w++ {
		next[w] = p
		p += rank[w] << (w - 1)
	}
	// A code of weight w covers 2^(w-1) entries of a maxBits-bit table, so 2^(w-1+11-maxBits)
	// of the 11-bit one.
	dt := &d.huff.dt
	scale := maxHuffmanBits - maxBits
	for s, w := range weights[:nw] {
		if w == 0 {
			continue
		}
		e := uint16(s) | uint16(maxBits+1-int(w))<<8
		p := next[w]
		cnt := 1 << (w - 1)
		next[w] = p + cnt
		lo, hi := p<<scale, (p+cnt)<<scale // hi <= 2^11: the weights add up to 2^maxBits
		for j := range dt[lo:hi] {
			dt[lo+j] = e
		}
	}
	return n, nil
}

// fseWeights decodes FSE-compressed Huffman weights from in (at src offset off) into w and
// returns how many it decoded.
func (d *decoder) fseWeights(in []byte, w *[256]uint8, off int) (int, error) {
	s := &d.fse
	nsym, accLog, n, err := s.readNCount(in, 255, 6, off)
	if err != nil {
		return 0, err
	}
	if err := s.spread(nsym, accLog, off); err != nil {
		return 0, err
	}
	t := &d.weightT
	s.build(t, kindWeight, accLog)
	stream := in[n:]
	cont, used, ptr, ok := revInit(stream)
	if !ok {
		return 0, corruptf(off+n, "FSE-compressed Huffman weights: bad or empty bitstream")
	}
	s1 := uint(revBits(cont, used, accLog))
	used += accLog
	s2 := uint(revBits(cont, used, accLog))
	used += accLog
	cnt := 0
	for {
		// Two weights or fewer per step, like libzstd, which stops at 255.
		if cnt > 253 {
			return 0, corruptf(off, "more than 255 FSE-compressed Huffman weights")
		}
		cont, used, ptr = revReload(stream, cont, used, ptr)
		e := t[s1&511]
		w[cnt] = uint8(e.baseline())
		cnt++
		s1 = e.newState() + uint(revBits(cont, used, e.nbBits()))
		used += e.nbBits()
		if ptr == 0 && used > 64 {
			w[cnt] = uint8(t[s2&511].baseline())
			cnt++
			break
		}
		if cnt > 253 {
			return 0, corruptf(off, "more than 255 FSE-compressed Huffman weights")
		}
		e = t[s2&511]
		w[cnt] = uint8(e.baseline())
		cnt++
		s2 = e.newState() + uint(revBits(cont, used, e.nbBits()))
		used += e.nbBits()
		if ptr == 0 && used > 64 {
			w[cnt] = uint8(t[s1&511].baseline())
			cnt++
			break
		}
	}
	return cnt, nil
}

// decode1 decodes one Huffman stream in, at src offset off, filling dst.
func (h *huffTable) decode1(dst, in []byte, off int) error {
	cont, used, ptr, ok := revInit(in)
	if !ok {
		return corruptf(off, "Huffman stream: bad or empty bitstream")
	}
	used, ptr = h.decodeStream(dst, in, cont, used, ptr)
	if ptr != 0 || used != 64 {
		return corruptf(off, "Huffman stream of %d bytes does not decode to exactly %d literals",
			len(in), len(dst))
	}
	return nil
}

// decodeStream fills dst from a stream whose reader state is cont, used, ptr and returns the
// final state.
func (h *huffTable) decodeStream(dst, in []byte, cont uint64, used uint, ptr int) (uint, int) {
	dt := &h.dt
	i := 0
	// Four symbols of at most 11 bits per reload, which leaves at least 57 bits.
	for ; ptr >= 8 && i+4 <= len(dst); i += 4 {
		ptr -= int(used >> 3)
		used &= 7
		cont = le64(in[ptr:])
		d := (*[4]byte)(dst[i:])
		e := dt[cont<<used>>huffShift]
		used += uint(e >> 8)
		d[0] = byte(e)
		e = dt[cont<<(used&63)>>huffShift]
		used += uint(e >> 8)
		d[1] = byte(e)
		e = dt[cont<<(used&63)>>huffShift]
		used += uint(e >> 8)
		d[2] = byte(e)
		e = dt[cont<<(used&63)>>huffShift]
		used += uint(e >> 8)
		d[3] = byte(e)
	}
	for ; i < len(dst); i++ {
		cont, used, ptr = revReload(in, cont, used, ptr)
		e := dt[cont<<used>>huffShift] // dt[0] past the stream's start: an over-read
		used += uint(e >> 8)
		dst[i] = byte(e)
	}
	return used, ptr
}

// decode4 decodes four Huffman streams, in after a 6-byte jump table, at src offset off,
// filling dst: each of the first three streams decodes a quarter (rounded up), the fourth the
// rest.
func (h *huffTable) decode4(dst, in []byte, off int) error {
	if len(in) < 10 {
		return corruptf(off, "4-stream Huffman literals of %d bytes, need at least 10", len(in))
	}
	n1 := int(binary.LittleEndian.Uint16(in[0:]))
	n2 := int(binary.LittleEndian.Uint16(in[2:]))
	n3 := int(binary.LittleEndian.Uint16(in[4:]))
	if 6+n1+n2+n3 >= len(in) {
		return corruptf(off, "Huffman jump table stream sizes %d+%d+%d exceed %d bytes",
			n1, n2, n3, len(in)-6)
	}
	seg := (len(dst) + 3) / 4
	if 3*seg > len(dst) {
		return corruptf(off, "%d literals cannot be split into 4 Huffman streams", len(dst))
	}
	a := 6
	in0 := in[a : a+n1]
	a += n1
	in1 := in[a : a+n2]
	a += n2
	in2 := in[a : a+n3]
	a += n3
	in3 := in[a:]
	offs := [4]int{off + 6, off + 6 + n1, off + 6 + n1 + n2, off + a}
	c0, u0, p0, ok0 := revInit(in0)
	c1, u1, p1, ok1 := revInit(in1)
	c2, u2, p2, ok2 := revInit(in2)
	c3, u3, p3, ok3 := revInit(in3)
	for i, ok := range [4]bool{ok0, ok1, ok2, ok3} {
		if !ok {
			return corruptf(offs[i], "Huffman stream %d: bad or empty bitstream", i+1)
		}
	}
	d0 := dst[:seg]
	d1 := dst[seg : 2*seg]
	d2 := dst[2*seg : 3*seg]
	d3 := dst[3*seg:]

	dt := &h.dt
	i := 0
	n := len(d3) // the shortest
	// Four streams interleaved so that their table lookups overlap; four symbols of at most 11
	// bits per stream and reload (a reload leaves at least 57 bits).
	for ; i+4 <= n && p0 >= 8 && p1 >= 8 && p2 >= 8 && p3 >= 8; i += 4 {
		p0 -= int(u0 >> 3)
		u0 &= 7
		c0 = le64(in0[p0:])
		p1 -= int(u1 >> 3)
		u1 &= 7
		c1 = le64(in1[p1:])
		p2 -= int(u2 >> 3)
		u2 &= 7
		c2 = le64(in2[p2:])
		p3 -= int(u3 >> 3)
		u3 &= 7
		c3 = le64(in3[p3:])
		o0 := (*[4]byte)(d0[i:])
		o1 := (*[4]byte)(d1[i:])
		o2 := (*[4]byte)(d2[i:])
		o3 := (*[4]byte)(d3[i:])

		e0 := dt[c0<<u0>>huffShift]
		e1 := dt[c1<<u1>>huffShift]
		e2 := dt[c2<<u2>>huffShift]
		e3 := dt[c3<<u3>>huffShift]
		u0 += uint(e0 >> 8)
		u1 += uint(e1 >> 8)
		u2 += uint(e2 >> 8)
		u3 += uint(e3 >> 8)
		o0[0], o1[0], o2[0], o3[0] = byte(e0), byte(e1), byte(e2), byte(e3)

		e0 = dt[c0<<(u0&63)>>huffShift]
		e1 = dt[c1<<(u1&63)>>huffShift]
		e2 = dt[c2<<(u2&63)>>huffShift]
		e3 = dt[c3<<(u3&63)>>huffShift]
		u0 += uint(e0 >> 8)
		u1 += uint(e1 >> 8)
		u2 += uint(e2 >> 8)
		u3 += uint(e3 >> 8)
		o0[1], o1[1], o2[1], o3[1] = byte(e0), byte(e1), byte(e2), byte(e3)

		e0 = dt[c0<<(u0&63)>>huffShift]
		e1 = dt[c1<<(u1&63)>>huffShift]
		e2 = dt[c2<<(u2&63)>>huffShift]
		e3 = dt[c3<<(u3&63)>>huffShift]
		u0 += uint(e0 >> 8)
		u1 += uint(e1 >> 8)
		u2 += uint(e2 >> 8)
		u3 += uint(e3 >> 8)
		o0[2], o1[2], o2[2], o3[2] = byte(e0), byte(e1), byte(e2), byte(e3)

		e0 = dt[c0<<(u0&63)>>huffShift]
		e1 = dt[c1<<(u1&63)>>huffShift]
		e2 = dt[c2<<(u2&63)>>huffShift]
		e3 = dt[c3<<(u3&63)>>huffShift]
		u0 += uint(e0 >> 8)
		u1 += uint(e1 >> 8)
		u2 += uint(e2 >> 8)
		u3 += uint(e3 >> 8)
		o0[3], o1[3], o2[3], o3[3] = byte(e0), byte(e1), byte(e2), byte(e3)
	}
	u0, p0 = h.decodeStream(d0[i:], in0, c0, u0, p0)
	u1, p1 = h.decodeStream(d1[i:], in1, c1, u1, p1)
	u2, p2 = h.decodeStream(d2[i:], in2, c2, u2, p2)
	u3, p3 = h.decodeStream(d3[i:], in3, c3, u3, p3)
	for k, st := range [4]struct {
		used uint
		ptr  int
	}{{u0, p0}, {u1, p1}, {u2, p2}, {u3, p3}} {
		if st.ptr != 0 || st.used != 64 {
			return corruptf(offs[k], "Huffman stream %d does not decode to exactly its %d literals",
				k+1, [4]int{len(d0), len(d1), len(d2), len(d3)}[k])
		}
	}
	return nil
}
