package unxz

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"strings"
	"testing"
)

// This file builds .xz streams field by field, with every CRC computed over whatever the fields
// hold, so that tests can state semantic errors (a wrong size, a bad chunk sequence) that only
// the checks behind the CRCs can catch. It also walks LZMA2 chunk sequences.

// tblock is one block of a test stream.
type tblock struct {
	data       []byte   // LZMA2 data, end marker included
	plain      []byte   // what data decodes to: for the check and the default index record
	csize      int64    // compressed size field: omit, 0 the real size, zeroField 0, else this value
	usize      int64    // uncompressed size field: the same
	filters    [][]byte // encoded filter flags; nil: LZMA2 with a 1 MiB dictionary
	flagsOr    byte     // OR'ed into the block flags (reserved bits)
	extraPad   int      // extra header padding bytes (zero unless padByte is set)
	padByte    byte     // value of the header padding bytes
	checkField []byte   // the check field as written; nil: computed from plain
}

// Values of tblock.csize and usize besides 0 (the real size) and a size to write.
const (
	omit      = -1 // no field
	zeroField = -2 // a field holding 0
)

// tstream is a test stream.
type tstream struct {
	check       byte
	flags0      byte // first stream flags byte (reserved, 0)
	blocks      []tblock
	records     [][2]uint64 // index records (unpadded, uncompressed); nil: computed
	footerFlags []byte      // footer flags; nil: the header's
	backwardAdd int         // added to the footer's backward size field
}

func lzma2Filter(dictByte byte) []byte { return []byte{0x21, 0x01, dictByte} }

func putVLI(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// checkOf computes the check field of a check type over plain.
func checkOf(check byte, plain []byte) []byte {
	switch check {
	case checkCRC32:
		return le32(crc32.ChecksumIEEE(plain))
	case checkCRC64:
		return binary.LittleEndian.AppendUint64(nil, crc64.Checksum(plain, crc64.MakeTable(crc64.ECMA)))
	case checkSHA256:
		s := sha256.Sum256(plain)
		return s[:]
	}
	return make([]byte, max(checkSize(check), 0))
}

func (s tstream) bytes() []byte {
	flags := []byte{s.flags0, s.check}
	out := []byte(headerMagic)
	out = append(out, flags...)
	out = append(out, le32(crc32.ChecksumIEEE(flags))...)
	var recs [][2]uint64
	for _, b := range s.blocks {
		h := []byte{0, byte(len(b.filters)-1) | b.flagsOr}
		filters := b.filters
		if filters == nil {
			filters = [][]byte{lzma2Filter(0x10)}
			h[1] = b.flagsOr
		}
		field := func(bit byte, v int64, real int) {
			if v == omit {
				return
			}
			h[1] |= bit
			switch v {
			case 0:
				v = int64(real)
			case zeroField:
				v = 0
			}
			h = putVLI(h, uint64(v))
		}
		field(0x40, b.csize, len(b.data))
		field(0x80, b.usize, len(b.plain))
		for _, f := range filters {
			h = append(h, f...)
		}
		for range b.extraPad {
			h = append(h, b.padByte)
		}
		for (len(h)+4)%4 != 0 {
			h = append(h, b.padByte)
		}
		h[0] = byte((len(h)+4)/4 - 1)
		h = append(h, le32(crc32.ChecksumIEEE(h))...)
		out = append(out, h...)
		out = append(out, b.data...)
		for (len(h)+len(b.data))%4 != 0 {
			h = append(h, 0) // only counts the padding
			out = append(out, 0)
		}
		c := b.checkField
		if c == nil {
			c = checkOf(s.check, b.plain)
		}
		out = append(out, c...)
		hsize := (int(h[0]) + 1) * 4
		recs = append(recs, [2]uint64{uint64(hsize + len(b.data) + len(c)), uint64(len(b.plain))})
	}
	if s.records != nil {
		recs = s.records
	}
	idx := putVLI([]byte{0}, uint64(len(recs)))
	for _, r := range recs {
		idx = putVLI(idx, r[0])
		idx = putVLI(idx, r[1])
	}
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = append(idx, le32(crc32.ChecksumIEEE(idx))...)
	out = append(out, idx...)
	ff := s.footerFlags
	if ff == nil {
		ff = flags
	}
	f := le32(uint32(len(idx)/4 - 1 + s.backwardAdd))
	f = append(f, ff...)
	out = append(out, le32(crc32.ChecksumIEEE(f))...)
	out = append(out, f...)
	return append(out, footerMagic...)
}

// One-stream, one-block shorthand.
func oneBlock(check byte, b tblock) []byte {
	return tstream{check: check, blocks: []tblock{b}}.bytes()
}

// Chunk builders.

func uncompressedChunk(dictReset bool, data []byte) []byte {
	c := byte(0x02)
	if dictReset {
		c = 0x01
	}
	return append([]byte{c, byte((len(data) - 1) >> 8), byte(len(data) - 1)}, data...)
}

// lzmaChunk wraps LZMA data of usize uncompressed bytes as a chunk; reset is 0-3 (none, state,
// state+props, state+props+dictionary); props is written for reset >= 2.
func lzmaChunk(reset int, props byte, usize int, data []byte) []byte {
	u := usize - 1
	c := []byte{0x80 | byte(reset)<<5 | byte(u>>16), byte(u >> 8), byte(u),
		byte((len(data) - 1) >> 8), byte(len(data) - 1)}
	if reset >= 2 {
		c = append(c, props)
	}
	return append(c, data...)
}

// rawChunk is the single LZMA chunk of a raw LZMA2 stream written by xz --format=raw.
type rawChunk struct {
	props byte
	usize int
	data  []byte
}

// parseRawLZMA2 returns the chunks of raw LZMA2 data; it fails the test on anything but a run of
// LZMA chunks ended by 0x00.
func parseRawLZMA2(t testing.TB, b []byte) []rawChunk {
	t.Helper()
	var chunks []rawChunk
	var props byte
	for p := 0; ; {
		if p >= len(b) {
			t.Fatalf("raw LZMA2 data has no end marker")
		}
		c := b[p]
		if c == 0 {
			return chunks
		}
		if c < 0x80 {
			t.Fatalf("raw LZMA2 data has an uncompressed chunk (control 0x%02x)", c)
		}
		usize := int(c&0x1F)<<16 | int(b[p+1])<<8 | int(b[p+2]) + 1
		csize := int(b[p+3])<<8 | int(b[p+4]) + 1
		h := 5
		if c >= 0xC0 {
			props = b[p+5]
			h = 6
		}
		chunks = append(chunks, rawChunk{props, usize, b[p+h : p+h+csize]})
		p += h + csize
	}
}

// controls returns the LZMA2 control bytes of every block of every stream in src, which must be
// valid .xz (the test decodes it first). Blocks are separated by "|".
func controls(src []byte) string {
	s := ""
	off := 0
	for off < len(src) {
		if src[off] == 0 { // stream padding
			off += 4
			continue
		}
		check := src[off+7]
		off += streamHdr
		for src[off] != 0 {
			start := off
			off += (int(src[off]) + 1) * 4
			for {
				c := src[off]
				s += fmt.Sprintf("%02x ", c)
				if c == 0 {
					off++
					break
				}
				if c < 0x80 {
					off += 3 + (int(src[off+1])<<8 | int(src[off+2])) + 1
				} else {
					h := 5
					if c >= 0xC0 {
						h = 6
					}
					off += h + (int(src[off+3])<<8 | int(src[off+4])) + 1
				}
			}
			for (off-start)%4 != 0 {
				off++
			}
			off += checkSize(check)
			s += "| "
		}
		// Skip the index (walking its records) and the footer.
		count, n := vli(src[off+1:])
		p := off + 1 + n
		for range count {
			_, n := vli(src[p:])
			p += n
			_, n = vli(src[p:])
			p += n
		}
		for (p-off)%4 != 0 {
			p++
		}
		off = p + 4 + streamHdr
	}
	return s
}

// controlClasses sums up a controls string: which of the six kinds of chunk occur.
func controlClasses(s string) map[string]bool {
	m := map[string]bool{}
	var c int
	for _, f := range strings.Fields(s) {
		if _, err := fmt.Sscanf(f, "%x", &c); err != nil {
			continue
		}
		switch {
		case c == 0x01:
			m["uncompressed+dict reset"] = true
		case c == 0x02:
			m["uncompressed"] = true
		case c >= 0xE0:
			m["lzma+dict reset"] = true
		case c >= 0xC0:
			m["lzma+props"] = true
		case c >= 0xA0:
			m["lzma+state reset"] = true
		case c >= 0x80:
			m["lzma"] = true
		}
	}
	return m
}

var allControlClasses = []string{"uncompressed+dict reset", "uncompressed", "lzma+dict reset",
	"lzma+props", "lzma+state reset", "lzma"}
