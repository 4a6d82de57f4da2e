package unzstd

import "encoding/binary"

// compressedBlock decodes the compressed block src[pos:end] onto d.out.
func (d *decoder) compressedBlock(pos, end int) error {
	block := pos
	if pos >= end {
		return corruptf(block, "empty compressed block")
	}
	lits, pos, err := d.literals(pos, end)
	if err != nil {
		return err
	}
	src := d.src[:end]
	if pos >= end {
		return corruptf(pos, "sequences section header missing")
	}
	var nseq int
	switch b0 := int(src[pos]); {
	case b0 < 128:
		nseq = b0
		pos++
	case b0 < 255:
		if end-pos < 2 {
			return corruptf(pos, "sequences section header truncated")
		}
		nseq = (b0-128)<<8 | int(src[pos+1])
		pos += 2
	default:
		if end-pos < 3 {
			return corruptf(pos, "sequences section header truncated")
		}
		nseq = int(src[pos+1]) | int(src[pos+2])<<8 + 0x7F00
		pos += 3
	}
	if nseq == 0 {
		d.note("seq/none")
		if pos != end {
			return corruptf(pos, "%d bytes after a sequences section without sequences", end-pos)
		}
		start := len(d.out)
		if len(lits) > d.blockEnd(start)-start {
			return d.overrun(block, start, start+len(lits))
		}
		d.out = append(d.out, lits...)
		return nil
	}
	if pos >= end {
		return corruptf(pos, "symbol compression modes missing")
	}
	modes := src[pos]
	if modes&3 != 0 {
		return corruptf(pos, "symbol compression modes %#02x have reserved bits set", modes)
	}
	pos++
	for kind := kindLL; kind <= kindML; kind++ {
		mode := modes >> (6 - 2*kind) & 3
		if d.census != nil {
			d.note("seq/" + kindName[kind] + "/" +
				[4]string{"predefined", "rle", "fse", "repeat"}[mode])
		}
		switch mode {
		case 0: // Predefined_Mode
			log := predefinedLog[kind]
			copy(d.seq[kind][:1<<log], predefined()[kind][:1<<log])
			d.seqLog[kind] = log
		case 1: // RLE_Mode
			if pos >= end {
				return corruptf(pos, "%s RLE code missing", kindName[kind])
			}
			c := src[pos]
			if int(c) > kindMaxSym[kind] {
				return corruptf(pos, "%s RLE code %d exceeds %d", kindName[kind], c, kindMaxSym[kind])
			}
			ci := info(kind, c)
			d.seq[kind][0] = newSeqEntry(ci.baseline, ci.addBits, 0, 0)
			d.seqLog[kind] = 0
			pos++
		case 2: // FSE_Compressed_Mode
			s := &d.fse
			nsym, accLog, n, err := s.readNCount(src[pos:], kindMaxSym[kind], kindMaxLog[kind], pos)
			if err != nil {
				return err
			}
			if err := s.spread(nsym, accLog, pos); err != nil {
				return err
			}
			s.build(&d.seq[kind], kind, accLog)
			d.seqLog[kind] = uint8(accLog)
			pos += n
		case 3: // Repeat_Mode
			if !d.haveSeq[kind] {
				return corruptf(pos, "%s repeat mode without an earlier table", kindName[kind])
			}
		}
		d.haveSeq[kind] = true
	}
	return d.sequences(src[pos:], pos, nseq, lits, block)
}

// seqBatch is how many sequences are decoded before they are executed. Decoding and executing
// in separate loops keeps each loop's variables in registers; batches keep the sequences in
// the L1 cache and the decoder small.
const seqBatch = 128

// seqVal is one decoded sequence: literal length, match length and match offset.
type seqVal struct {
	ll, ml, mo uint32
}

// seqState is the state of a sequences bitstream between batches.
type seqState struct {
	in            []byte
	cont          uint64
	used          uint
	ptr           int
	llS, ofS, mlS uint
	rep           [3]int
}

// sequences decodes nseq sequences from the bitstream in (at src offset off) and executes them
// with the block's literals, appending the block's output to d.out.
func (d *decoder) sequences(in []byte, off, nseq int, lits []byte, block int) error {
	if nseq > d.blockMax/3 {
		// Every match is at least 3 bytes long.
		return corruptf(off, "%d sequences cannot fit in a block of at most %d bytes", nseq,
			d.blockMax)
	}
	cont, used, ptr, ok := revInit(in)
	if !ok {
		return corruptf(off, "sequences bitstream: bad or empty")
	}
	st := seqState{in: in, cont: cont, ptr: ptr, rep: d.rep}
	st.llS = uint(revBits(cont, used, uint(d.seqLog[kindLL])))
	used += uint(d.seqLog[kindLL])
	st.ofS = uint(revBits(cont, used, uint(d.seqLog[kindOF])))
	used += uint(d.seqLog[kindOF])
	st.mlS = uint(revBits(cont, used, uint(d.seqLog[kindML])))
	used += uint(d.seqLog[kindML])
	st.used = used

	start := len(d.out)
	end := d.blockEnd(start)
	d.reserve(end - start)
	out := d.out[:end+wildCopySlack]
	op := start
	litsAll := lits[:cap(lits)]
	nlits := len(lits)
	lp := 0
	window := d.window
	frameStart := d.frameStart
	for done := 0; done < nseq; {
		n := min(seqBatch, nseq-done)
		batch := d.seqs[:n]
		if err := d.decodeSeqs(&st, batch, nseq-done, off); err != nil {
			return err
		}
		for i, s := range batch {
			ll, ml, mo := int(s.ll), int(s.ml), int(s.mo)
			if ll > nlits-lp {
				return corruptf(off, "sequence %d wants %d literals, %d are left", done+i, ll,
					nlits-lp)
			}
			if ll+ml > end-op {
				return d.overrun(block, start, op+ll+ml)
			}

			// Literals.
			if ll <= 16 && lp+16 <= len(litsAll) {
				*(*[16]byte)(out[op:]) = *(*[16]byte)(litsAll[lp:])
			} else {
				copy(out[op:op+ll], litsAll[lp:lp+ll])
			}
			op += ll
			lp += ll

			// Match.
			if uint(mo) > uint(op-frameStart) { // unsigned: a wrapped offset on 32-bit is huge
				return corruptf(off, "sequence %d: offset %d reaches before the frame's first byte "+
					"(%d decoded)", done+i, mo, op-frameStart)
			}
			if uint64(mo) > window {
				return corruptf(off, "sequence %d: offset %d exceeds the window size %d", done+i, mo,
					window)
			}
			if mo >= 16 && ml <= 16 {
				*(*[16]byte)(out[op:]) = *(*[16]byte)(out[op-mo:])
			} else {
				copyMatch(out, op, mo, ml)
			}
			op += ml
		}
		done += n
	}
	if st.ptr != 0 || st.used != 64 {
		return corruptf(off, "sequences bitstream of %d bytes not consumed exactly", len(in))
	}
	rest := nlits - lp
	if rest > end-op {
		return d.overrun(block, start, op+rest)
	}
	copy(out[op:], litsAll[lp:nlits])
	op += rest
	d.out = d.out[:op]
	d.rep = st.rep
	return nil
}

// decodeSeqs decodes len(seqs) sequences from the bitstream in st; left is how many sequences
// of the block are left including these (the last one reads no state update).
func (d *decoder) decodeSeqs(st *seqState, seqs []seqVal, left, off int) error {
	llT, ofT, mlT := &d.seq[kindLL], &d.seq[kindOF], &d.seq[kindML]
	in := st.in
	cont, used, ptr := st.cont, st.used, st.ptr
	llS, ofS, mlS := st.llS, st.ofS, st.mlS
	rep0, rep1, rep2 := st.rep[0], st.rep[1], st.rep[2]
	var nb uint
	// Bits are read with masked shifts (no fix-ups for shifts of 64 or more): used stays below
	// 64 except at the very end of a stream, where reading a non-empty field over-reads and is
	// caught by the exact-end check, and at ptr == 0, where the reload check catches it. A wrong
	// value read meanwhile only ever meets bounds checks.
	for i := range seqs {
		if ptr >= 8 {
			ptr -= int(used >> 3)
			used &= 7
			cont = le64(in[ptr:])
		} else {
			cont, used, ptr = revReload(in, cont, used, ptr)
			if used > 64 {
				return corruptf(off, "sequences bitstream over-read")
			}
		}
		ofE, mlE, llE := ofT[ofS&511], mlT[mlS&511], llT[llS&511]
		ofv := ofE.baseline() + int(cont<<(used&63)>>1>>((63-ofE.addBits())&63))
		used += ofE.addBits()
		ml := mlE.baseline() + int(cont<<(used&63)>>1>>((63-mlE.addBits())&63))
		used += mlE.addBits()
		if ofE.addBits()+mlE.addBits()+llE.addBits() > 30 {
			// Reading everything else could take more than the 57 bits a reload guarantees.
			if ptr >= 8 {
				ptr -= int(used >> 3)
				used &= 7
				cont = le64(in[ptr:])
			} else {
				cont, used, ptr = revReload(in, cont, used, ptr)
			}
		}
		ll := llE.baseline() + int(cont<<(used&63)>>1>>((63-llE.addBits())&63))
		used += llE.addBits()

		// Offset_Value 1-3 names a repeat offset (shifted by one when there are no literals,
		// where 3 means Repeated_Offset1 - 1); above 3 it is a new offset plus 3. Written
		// without branches (the compiler makes conditional moves): which case applies is
		// data-dependent and would be mispredicted often.
		idx := ofv - 1
		if ll == 0 {
			idx++
		}
		if ofv > 3 {
			idx = 4
		}
		mo := ofv - 3 // idx 4: a new offset
		shift := 2    // how many repeat offsets move down: rep2 = rep1 when 2, rep1 = rep0 when >= 1
		if idx == 0 {
			mo, shift = rep0, 0
		}
		if idx == 1 {
			mo, shift = rep1, 1
		}
		if idx == 2 {
			mo = rep2
		}
		if idx == 3 {
			mo = rep0 - 1
		}
		if mo == 0 {
			return strictf(off, "repeat offset 1 minus one is zero")
		}
		if d.census != nil && idx == 3 {
			d.note("seq/offset rep1-1")
		}
		if shift == 2 {
			rep2 = rep1
		}
		if shift != 0 {
			rep1 = rep0
		}
		rep0 = mo
		seqs[i] = seqVal{uint32(ll), uint32(ml), uint32(mo)}

		// The next states' bits, literal lengths first, in one read of at most 26 bits. The
		// last sequence of the block has none: its read is undone below.
		ofN, mlN := ofE.nbBits(), mlE.nbBits()
		nb = llE.nbBits() + mlN + ofN
		v := uint(cont << (used & 63) >> 1 >> ((63 - nb) & 63))
		used += nb
		ofS = ofE.newState() + v&(1<<ofN-1)
		v >>= ofN
		mlS = mlE.newState() + v&(1<<mlN-1)
		llS = llE.newState() + v>>mlN
	}
	if len(seqs) == left {
		used -= nb
	}
	st.cont, st.used, st.ptr = cont, used, ptr
	st.llS, st.ofS, st.mlS = llS, ofS, mlS
	st.rep = [3]int{rep0, rep1, rep2}
	return nil
}

// blockEnd returns the index in d.out that a block starting at start may not decode past: the
// first of the block maximum size, the frame content size and the limit.
func (d *decoder) blockEnd(start int) int {
	end := start + d.blockMax
	if d.frameEnd >= 0 && d.frameEnd < end {
		end = d.frameEnd
	}
	if d.limit < end {
		end = d.limit
	}
	return end
}

// overrun returns the error for a block at src offset block, which started at start in d.out,
// that would decode up to want, past d.blockEnd(start).
func (d *decoder) overrun(block, start, want int) error {
	if want-start > d.blockMax {
		return corruptf(block, "block decodes to more than the maximum %d bytes", d.blockMax)
	}
	if d.frameEnd >= 0 && want > d.frameEnd {
		return corruptf(block, "frame decodes to more than its content size %d",
			d.frameEnd-d.frameStart)
	}
	return d.tooLarge(block, want-start)
}

// copyMatch copies ml bytes from out[op-mo:] to out[op:], where the two may overlap (mo < ml
// repeats the last mo bytes). It may write up to 15 bytes past op+ml.
func copyMatch(out []byte, op, mo, ml int) {
	src := op - mo
	switch {
	case mo >= 16:
		if ml <= 16 {
			*(*[16]byte)(out[op:]) = *(*[16]byte)(out[src:])
			return
		}
		if mo >= ml {
			copy(out[op:op+ml], out[src:src+ml])
			return
		}
		for k := 0; k < ml; k += 16 {
			*(*[16]byte)(out[op+k:]) = *(*[16]byte)(out[src+k:])
		}
	case mo >= 8:
		for k := 0; k < ml; k += 8 {
			binary.LittleEndian.PutUint64(out[op+k:], le64(out[src+k:]))
		}
	case ml < 16:
		for k := 0; k < ml; k++ {
			out[op+k] = out[src+k]
		}
	default:
		copy(out[op:op+mo], out[src:op])
		for n := mo; n < ml; {
			n += copy(out[op+n:op+ml], out[op:op+n])
		}
	}
}
