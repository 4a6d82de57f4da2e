package unzstd

import (
	"encoding/binary"
	"math/bits"
)

// Zstandard's entropy-coded streams (Huffman literals, FSE sequences, FSE Huffman weights) are
// written forward and read backward: the last byte holds the first bits, starting below its
// highest set bit, which only marks where the stream begins. Readers keep an 8-byte window
// in[ptr:ptr+8] loaded little endian into cont, and used counts the bits consumed from the top
// of cont. Reloading moves ptr back by whole consumed bytes. When ptr reaches 0 the window
// cannot move any more; reads past the start of the stream then yield zero bits and push used
// beyond 64, which is how an over-read is detected. The stream is exactly consumed when
// ptr == 0 and used == 64.
//
// The hot loops keep cont, used and ptr in local variables (a struct with a slice in it does not
// stay in registers); revInit and revReload are the shared slow paths.

// revInit starts reading the backward stream in. It reports false when the stream is empty or
// its last byte is zero (no start marker).
func revInit(in []byte) (cont uint64, used uint, ptr int, ok bool) {
	n := len(in)
	if n == 0 || in[n-1] == 0 {
		return 0, 0, 0, false
	}
	used = uint(9 - bits.Len8(in[n-1]))
	if n >= 8 {
		return binary.LittleEndian.Uint64(in[n-8:]), used, n - 8, true
	}
	for i := n - 1; i >= 0; i-- {
		cont = cont<<8 | uint64(in[i])
	}
	return cont, used + uint(8-n)*8, 0, true
}

// revReload refills the window after at most 57 bits were read since the last reload.
func revReload(in []byte, cont uint64, used uint, ptr int) (uint64, uint, int) {
	if ptr >= 8 {
		ptr -= int(used >> 3)
		return binary.LittleEndian.Uint64(in[ptr:]), used & 7, ptr
	}
	if ptr == 0 {
		return cont, used, 0
	}
	n := int(used >> 3)
	if n > ptr {
		n = ptr
	}
	ptr -= n
	return binary.LittleEndian.Uint64(in[ptr:]), used - uint(n)*8, ptr
}

// revBits returns the next n (<= 57) bits of the window; reads past the stream's start give 0.
func revBits(cont uint64, used, n uint) uint64 {
	return cont << used >> 1 >> (63 - n)
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
