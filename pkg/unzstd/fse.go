package unzstd

import (
	"encoding/binary"
	"math/bits"
	"sync"
)

// FSE (finite state entropy, a tANS coder) codes the sequences' literal lengths, match lengths
// and offsets, and optionally the Huffman weights. A table is described by a normalized
// distribution: accuracy log A and, per symbol, a probability out of 2^A (-1 for "less than
// one", which gets one state). Decoding states are spread over the 2^A table slots in a fixed
// pattern, and each slot says which symbol it decodes and how to reach the next state.

// fseScratch holds working memory for reading a distribution.
type fseScratch struct {
	norm [256]int16
	next [256]uint16
	syms [512]uint8
}

// readNCount reads the normalized distribution at the start of in for symbols 0..maxSym with an
// accuracy log of at most maxLog. It returns the number of symbols described, the accuracy log
// and the number of bytes used; off locates in for error messages.
func (s *fseScratch) readNCount(in []byte, maxSym int, maxLog uint, off int) (nsym int,
	accLog uint, n int, err error) {
	if len(in) == 0 {
		return 0, 0, 0, corruptf(off, "FSE table description missing")
	}
	accLog = uint(in[0]&15) + 5
	if accLog > maxLog {
		return 0, 0, 0, corruptf(off, "FSE accuracy log %d exceeds %d", accLog, maxLog)
	}
	pos := uint(4) // bit position in in
	peek := func() uint32 {
		i := int(pos >> 3)
		var v uint64
		if i+8 <= len(in) {
			v = binary.LittleEndian.Uint64(in[i:])
		} else {
			for j := len(in) - 1; j >= i; j-- {
				v = v<<8 | uint64(in[j])
			}
		}
		return uint32(v >> (pos & 7))
	}
	remaining := int32(1)<<accLog + 1
	threshold := int32(1) << accLog
	nbBits := accLog + 1
	sym := 0
	prev0 := false
	for remaining > 1 && sym <= maxSym {
		if prev0 {
			n0 := sym
			for {
				r := int(peek() & 3)
				pos += 2
				n0 += r
				if r != 3 {
					break
				}
				if n0 > maxSym {
					break
				}
			}
			if n0 > maxSym {
				return 0, 0, 0, corruptf(off, "FSE zero run reaches symbol %d beyond %d", n0, maxSym)
			}
			for sym < n0 {
				s.norm[sym] = 0
				sym++
			}
		}
		v := int32(peek())
		limit := 2*threshold - 1 - remaining
		var count int32
		if v&(threshold-1) < limit {
			count = v & (threshold - 1)
			pos += nbBits - 1
		} else {
			count = v & (2*threshold - 1)
			if count >= threshold {
				count -= limit
			}
			pos += nbBits
		}
		count-- // -1 is "less than one"
		if count < 0 {
			remaining += count
		} else {
			remaining -= count
		}
		s.norm[sym] = int16(count)
		sym++
		prev0 = count == 0
		for remaining < threshold {
			nbBits--
			threshold >>= 1
		}
	}
	if remaining != 1 {
		return 0, 0, 0, corruptf(off, "FSE probabilities do not add up to %d", 1<<accLog)
	}
	n = int((pos + 7) >> 3)
	if n > len(in) {
		return 0, 0, 0, corruptf(off, "FSE table description truncated")
	}
	return sym, accLog, n, nil
}

// spread assigns the symbols of the distribution in s.norm[:nsym] to the 2^accLog table slots,
// leaving the symbol of each slot in s.syms and each symbol's first state in s.next.
func (s *fseScratch) spread(nsym int, accLog uint, off int) error {
	size := 1 << accLog
	mask := size - 1
	high := size - 1
	for i, c := range s.norm[:nsym] {
		if c == -1 {
			s.syms[high] = uint8(i)
			high--
			s.next[i] = 1
		} else {
			s.next[i] = uint16(c)
		}
	}
	step := size>>1 + size>>3 + 3
	p := 0
	for i, c := range s.norm[:nsym] {
		for j := int16(0); j < c; j++ {
			s.syms[p] = uint8(i)
			p = (p + step) & mask
			for p > high {
				p = (p + step) & mask
			}
		}
	}
	if p != 0 {
		return corruptf(off, "FSE distribution does not fill its table")
	}
	return nil
}

// seqEntry is one state of a sequence-code decoding table, packed into one word so that the
// decoder loads it with one instruction: bits 0-7 the next state's bit count, 8-15 the code's
// extra bit count, 16-31 the next state's base, 32-63 the code's baseline value.
type seqEntry uint64

func newSeqEntry(baseline uint32, addBits uint8, nbBits uint, newState int) seqEntry {
	return seqEntry(nbBits) | seqEntry(addBits)<<8 | seqEntry(uint16(newState))<<16 |
		seqEntry(baseline)<<32
}

func (e seqEntry) nbBits() uint   { return uint(e & 0xFF) }
func (e seqEntry) addBits() uint  { return uint(e >> 8 & 0xFF) }
func (e seqEntry) newState() uint { return uint(e >> 16 & 0xFFFF) }
func (e seqEntry) baseline() int  { return int(e >> 32) }

// seqTable is a decoding table for literal lengths, match lengths, offsets or Huffman weights.
// Entries beyond 2^accLog are unused; the fixed size lets the decoder mask indices instead of
// checking them.
type seqTable [512]seqEntry

// codeInfo gives a code's baseline and extra bits.
type codeInfo struct {
	baseline uint32
	addBits  uint8
}

// Literal-length, match-length and offset code tables (RFC 8878 section 3.1.1.3.2.1).
var (
	llCodes = [36]codeInfo{
		{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}, {6, 0}, {7, 0},
		{8, 0}, {9, 0}, {10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0}, {15, 0},
		{16, 1}, {18, 1}, {20, 1}, {22, 1}, {24, 2}, {28, 2}, {32, 3}, {40, 3},
		{48, 4}, {64, 6}, {128, 7}, {256, 8}, {512, 9}, {1024, 10}, {2048, 11}, {4096, 12},
		{8192, 13}, {16384, 14}, {32768, 15}, {65536, 16},
	}
	mlCodes = [53]codeInfo{
		{3, 0}, {4, 0}, {5, 0}, {6, 0}, {7, 0}, {8, 0}, {9, 0}, {10, 0},
		{11, 0}, {12, 0}, {13, 0}, {14, 0}, {15, 0}, {16, 0}, {17, 0}, {18, 0},
		{19, 0}, {20, 0}, {21, 0}, {22, 0}, {23, 0}, {24, 0}, {25, 0}, {26, 0},
		{27, 0}, {28, 0}, {29, 0}, {30, 0}, {31, 0}, {32, 0}, {33, 0}, {34, 0},
		{35, 1}, {37, 1}, {39, 1}, {41, 1}, {43, 2}, {47, 2}, {51, 3}, {59, 3},
		{67, 4}, {83, 4}, {99, 5}, {131, 7}, {259, 8}, {515, 9}, {1027, 10}, {2051, 11},
		{4099, 12}, {8195, 13}, {16387, 14}, {32771, 15}, {65539, 16},
	}
)

// Table kinds, with their largest code and accuracy log.
const (
	kindLL = iota
	kindOF
	kindML
	kindWeight // Huffman weights: the entry's baseline is the weight
)

var (
	kindMaxSym = [3]int{35, 31, 52}
	kindMaxLog = [3]uint{9, 8, 9}
	kindName   = [3]string{"literal lengths", "offsets", "match lengths"}
)

// info returns the baseline and extra bits of code c of a table kind.
func info(kind int, c uint8) codeInfo {
	switch kind {
	case kindLL:
		return llCodes[c]
	case kindML:
		return mlCodes[c]
	case kindWeight:
		return codeInfo{uint32(c), 0}
	}
	// Offset code c stands for Offset_Value = (1<<c) + c extra bits.
	return codeInfo{uint32(1) << c, c}
}

// build fills t from the spread table in s.
func (s *fseScratch) build(t *seqTable, kind int, accLog uint) {
	size := 1 << accLog
	for u := 0; u < size; u++ {
		sym := s.syms[u]
		ns := s.next[sym]
		s.next[sym]++
		nb := accLog - uint(bits.Len16(ns)-1)
		ci := info(kind, sym)
		t[u] = newSeqEntry(ci.baseline, ci.addBits, nb, int(ns)<<nb-size)
	}
}

// Predefined distributions (RFC 8878 section 3.1.1.3.2.2).
var (
	llDefault = [36]int16{4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1,
		2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1}
	mlDefault = [53]int16{1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1}
	ofDefault = [29]int16{1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1}
)

// Accuracy logs of the predefined tables.
var predefinedLog = [3]uint8{6, 5, 6}

var (
	predefinedOnce   sync.Once
	predefinedTables [3]seqTable
)

// predefined returns the three predefined tables (literal lengths, offsets, match lengths),
// built on first use.
func predefined() *[3]seqTable {
	predefinedOnce.Do(func() {
		var s fseScratch
		for kind, norm := range [3][]int16{llDefault[:], ofDefault[:], mlDefault[:]} {
			accLog := uint(predefinedLog[kind])
			copy(s.norm[:], norm)
			if err := s.spread(len(norm), accLog, 0); err != nil {
				panic("unzstd: predefined table: " + err.Error())
			}
			s.build(&predefinedTables[kind], kind, accLog)
		}
	})
	return &predefinedTables
}
