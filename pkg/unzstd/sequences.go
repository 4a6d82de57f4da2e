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
		if pos != end {
			return corruptf(pos, "%d bytes after a sequences section without sequences", end-pos)
		}
		if len(lits) > d.limit-len(d.out) {
			return d.tooLarge(block, len(lits))
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
	tables := [3]**seqTable{&d.llT, &d.ofT, &d.mlT}
	stores := [3]*seqTable{&d.llStore, &d.ofStore, &d.mlSt}
	rles := [3]*seqTable{&d.rleLL, &d.rleOF, &d.rleML}
	for kind := kindLL; kind <= kindML; kind++ {
		switch mode := modes >> (6 - 2*kind) & 3; mode {
		case 0: // Predefined_Mode
			*tables[kind] = &predefined()[kind]
		case 1: // RLE_Mode
			if pos >= end {
				return corruptf(pos, "%s RLE code missing", kindName[kind])
			}
			c := src[pos]
			if int(c) > kindMaxSym[kind] {
				return corruptf(pos, "%s RLE code %d exceeds %d", kindName[kind], c, kindMaxSym[kind])
			}
			rles[kind].setRLE(kind, c)
			*tables[kind] = rles[kind]
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
			s.build(stores[kind], kind, accLog)
			*tables[kind] = stores[kind]
			pos += n
		case 3: // Repeat_Mode
			if *tables[kind] == nil {
				return corruptf(pos, "%s repeat mode without an earlier table", kindName[kind])
			}
		}
	}
	return d.sequences(src[pos:], pos, nseq, lits, block)
}

// sequences decodes nseq sequences from the bitstream in (at src offset off) and executes them
// with the block's literals, appending the block's output to d.out.
func (d *decoder) sequences(in []byte, off, nseq int, lits []byte, block int) error {
	cont, used, ptr, ok := revInit(in)
	if !ok {
		return corruptf(off, "sequences bitstream: bad or empty")
	}
	llT, ofT, mlT := &d.llT.e, &d.ofT.e, &d.mlT.e
	llS := uint(revBits(cont, used, uint(d.llT.accLog)))
	used += uint(d.llT.accLog)
	ofS := uint(revBits(cont, used, uint(d.ofT.accLog)))
	used += uint(d.ofT.accLog)
	mlS := uint(revBits(cont, used, uint(d.mlT.accLog)))
	used += uint(d.mlT.accLog)

	start := len(d.out)
	blockEnd := start + d.blockMax // output past it is corrupt
	end := blockEnd                // output past it is corrupt or too large
	if room := d.limit - start; room < d.blockMax {
		end = start + room
	}
	d.reserve(end - start)
	out := d.out[:end+wildCopySlack]
	op := start
	litsAll := lits[:cap(lits)]
	nlits := len(lits)
	lp := 0
	rep0, rep1, rep2 := d.rep[0], d.rep[1], d.rep[2]
	window := d.window
	frameStart := d.frameStart

	for i := 0; i < nseq; i++ {
		if ptr >= 8 {
			ptr -= int(used >> 3)
			used &= 7
			cont = le64(in[ptr:])
		} else {
			cont, used, ptr = revReload(in, cont, used, ptr)
			if used > 64 {
				return corruptf(off, "sequences bitstream over-read at sequence %d of %d", i, nseq)
			}
		}
		ofE, mlE, llE := ofT[ofS&511], mlT[mlS&511], llT[llS&511]
		ofv := int(ofE.baseline) + int(revBits(cont, used, uint(ofE.addBits)))
		used += uint(ofE.addBits)
		ml := int(mlE.baseline) + int(revBits(cont, used, uint(mlE.addBits)))
		used += uint(mlE.addBits)
		if ofE.addBits+mlE.addBits+llE.addBits > 30 {
			// Reading everything else could take more than the 57 bits a reload guarantees.
			if ptr >= 8 {
				ptr -= int(used >> 3)
				used &= 7
				cont = le64(in[ptr:])
			} else {
				cont, used, ptr = revReload(in, cont, used, ptr)
			}
		}
		ll := int(llE.baseline) + int(revBits(cont, used, uint(llE.addBits)))
		used += uint(llE.addBits)

		var mo int
		if ofv > 3 {
			mo = ofv - 3
			rep2, rep1, rep0 = rep1, rep0, mo
		} else {
			idx := ofv - 1
			if ll == 0 {
				idx++
			}
			switch idx {
			case 0:
				mo = rep0
			case 1:
				mo = rep1
				rep1, rep0 = rep0, mo
			case 2:
				mo = rep2
				rep2, rep1, rep0 = rep1, rep0, mo
			default:
				mo = rep0 - 1
				if mo == 0 {
					return strictf(off, "sequence %d: repeat offset 1 minus one is zero", i)
				}
				rep2, rep1, rep0 = rep1, rep0, mo
			}
		}

		if i < nseq-1 {
			llS = uint(llE.newState) + uint(revBits(cont, used, uint(llE.nbBits)))
			used += uint(llE.nbBits)
			mlS = uint(mlE.newState) + uint(revBits(cont, used, uint(mlE.nbBits)))
			used += uint(mlE.nbBits)
			ofS = uint(ofE.newState) + uint(revBits(cont, used, uint(ofE.nbBits)))
			used += uint(ofE.nbBits)
		}

		if ll > nlits-lp {
			return corruptf(off, "sequence %d wants %d literals, %d are left", i, ll, nlits-lp)
		}
		if ll+ml > end-op {
			if ll+ml > blockEnd-op {
				return corruptf(block, "sequence %d: block decodes to more than the maximum %d bytes",
					i, d.blockMax)
			}
			return d.tooLarge(block, op+ll+ml-start)
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
		if mo > op-frameStart {
			return corruptf(off, "sequence %d: offset %d reaches before the frame's first byte "+
				"(%d decoded)", i, mo, op-frameStart)
		}
		if uint64(mo) > window {
			return corruptf(off, "sequence %d: offset %d exceeds the window size %d", i, mo, window)
		}
		copyMatch(out, op, mo, ml)
		op += ml
	}
	if ptr != 0 || used != 64 {
		return corruptf(off, "sequences bitstream of %d bytes not consumed exactly", len(in))
	}
	rest := nlits - lp
	if rest > end-op {
		if rest > blockEnd-op {
			return corruptf(block, "block decodes to more than the maximum %d bytes", d.blockMax)
		}
		return d.tooLarge(block, op+rest-start)
	}
	copy(out[op:], litsAll[lp:nlits])
	op += rest
	d.out = d.out[:op]
	d.rep = [3]int{rep0, rep1, rep2}
	return nil
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
