package unzstd

import (
	"encoding/binary"
	"math/bits"
)

// XXH64 (seed 0), the hash whose low 32 bits form a frame's Content_Checksum. It is written out
// here rather than imported to keep the package free of dependencies and of init work.

const (
	prime64x1 uint64 = 0x9E3779B185EBCA87
	prime64x2 uint64 = 0xC2B2AE3D27D4EB4F
	prime64x3 uint64 = 0x165667B19E3779F9
	prime64x4 uint64 = 0x85EBCA77C2B2AE63
	prime64x5 uint64 = 0x27D4EB2F165667C5
)

// xxh64 is a streaming XXH64 state.
type xxh64 struct {
	v1, v2, v3, v4 uint64
	total          uint64
	buf            [32]byte
	n              int // bytes in buf
}

func (h *xxh64) reset() {
	p1, p2 := prime64x1, prime64x2 // variables: the sums wrap around, which constants may not
	h.v1 = p1 + p2
	h.v2 = p2
	h.v3 = 0
	h.v4 = -p1
	h.total = 0
	h.n = 0
}

func xxRound(acc, in uint64) uint64 {
	acc += in * prime64x2
	acc = bits.RotateLeft64(acc, 31)
	return acc * prime64x1
}

func xxMerge(acc, v uint64) uint64 {
	acc ^= xxRound(0, v)
	return acc*prime64x1 + prime64x4
}

func (h *xxh64) write(b []byte) {
	h.total += uint64(len(b))
	if h.n > 0 {
		k := copy(h.buf[h.n:], b)
		h.n += k
		b = b[k:]
		if h.n < 32 {
			return
		}
		h.stripes(h.buf[:])
		h.n = 0
	}
	if len(b) >= 32 {
		m := len(b) &^ 31
		h.stripes(b[:m])
		b = b[m:]
	}
	h.n = copy(h.buf[:], b)
}

// stripes consumes b, a multiple of 32 bytes long.
func (h *xxh64) stripes(b []byte) {
	v1, v2, v3, v4 := h.v1, h.v2, h.v3, h.v4
	for ; len(b) >= 32; b = b[32:] {
		v1 = xxRound(v1, binary.LittleEndian.Uint64(b[0:8]))
		v2 = xxRound(v2, binary.LittleEndian.Uint64(b[8:16]))
		v3 = xxRound(v3, binary.LittleEndian.Uint64(b[16:24]))
		v4 = xxRound(v4, binary.LittleEndian.Uint64(b[24:32]))
	}
	h.v1, h.v2, h.v3, h.v4 = v1, v2, v3, v4
}

func (h *xxh64) sum() uint64 {
	var acc uint64
	if h.total >= 32 {
		acc = bits.RotateLeft64(h.v1, 1) + bits.RotateLeft64(h.v2, 7) +
			bits.RotateLeft64(h.v3, 12) + bits.RotateLeft64(h.v4, 18)
		acc = xxMerge(acc, h.v1)
		acc = xxMerge(acc, h.v2)
		acc = xxMerge(acc, h.v3)
		acc = xxMerge(acc, h.v4)
	} else {
		acc = h.v3 + prime64x5 // v3 is the seed, 0
	}
	acc += h.total
	b := h.buf[:h.n]
	for ; len(b) >= 8; b = b[8:] {
		acc ^= xxRound(0, binary.LittleEndian.Uint64(b))
		acc = bits.RotateLeft64(acc, 27)*prime64x1 + prime64x4
	}
	if len(b) >= 4 {
		acc ^= uint64(binary.LittleEndian.Uint32(b)) * prime64x1
		acc = bits.RotateLeft64(acc, 23)*prime64x2 + prime64x3
		b = b[4:]
	}
	for _, c := range b {
		acc ^= uint64(c) * prime64x5
		acc = bits.RotateLeft64(acc, 11) * prime64x1
	}
	acc ^= acc >> 33
	acc *= prime64x2
	acc ^= acc >> 29
	acc *= prime64x3
	acc ^= acc >> 32
	return acc
}
