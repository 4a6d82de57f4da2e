package unxz

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// pieces returns plain.txt and the raw LZMA chunks of raw-a, raw-b and raw-c. Each piece was
// encoded on its own with lc=0 (so the byte before it does not matter) and starts where the
// position bits (lp, pb) are aligned, so a piece decodes the same after a state reset in the
// middle of a longer LZMA2 stream as it does alone.
func pieces(t testing.TB) (plain []byte, a, b, c rawChunk) {
	t.Helper()
	plain = readTestdata(t, "plain.txt")
	var got []rawChunk
	for _, p := range rawPieces {
		chunks := parseRawLZMA2(t, readTestdata(t, p.file))
		if len(chunks) != 1 || chunks[0].usize != p.to-p.from {
			t.Fatalf("%s: want one chunk of %d bytes, got %d chunks", p.file, p.to-p.from, len(chunks))
		}
		got = append(got, chunks[0])
	}
	return plain, got[0], got[1], got[2]
}

func filler(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// TestChunkSequences decodes hand-built LZMA2 streams with every kind of chunk: uncompressed
// with and without a dictionary reset, and LZMA chunks that reset the state, set new properties
// and reset the dictionary (zeros.xz has LZMA chunks that reset nothing).
func TestChunkSequences(t *testing.T) {
	plain, a, b, c := pieces(t)
	pa, pb, pc := plain[0:700], plain[700:1400], plain[1400:2048]
	u16, u32 := filler(16, 1), filler(32, 2)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name    string
		data    []byte
		want    []byte
		classes []string
	}{
		{"lzma dict reset",
			cat(lzmaChunk(3, a.props, a.usize, a.data), []byte{0}), pa,
			[]string{"lzma+dict reset"}},
		{"uncompressed only",
			cat(uncompressedChunk(true, u16), uncompressedChunk(false, u32), []byte{0}), cat(u16, u32),
			[]string{"uncompressed+dict reset", "uncompressed"}},
		{"state reset after uncompressed",
			cat(lzmaChunk(3, a.props, a.usize, a.data), uncompressedChunk(false, u16),
				lzmaChunk(1, 0, b.usize, b.data), []byte{0}),
			cat(pa, u16, pb), []string{"lzma+dict reset", "uncompressed", "lzma+state reset"}},
		{"new props after uncompressed dict reset",
			cat(uncompressedChunk(true, u32), lzmaChunk(2, c.props, c.usize, c.data), []byte{0}),
			cat(u32, pc), []string{"uncompressed+dict reset", "lzma+props"}},
		{"all",
			cat(lzmaChunk(3, a.props, a.usize, a.data), uncompressedChunk(false, u16),
				lzmaChunk(1, 0, b.usize, b.data), uncompressedChunk(true, u32),
				lzmaChunk(2, c.props, c.usize, c.data), lzmaChunk(3, b.props, b.usize, b.data),
				[]byte{0}),
			cat(pa, u16, pb, u32, pc, pb),
			[]string{"lzma+dict reset", "uncompressed", "lzma+state reset",
				"uncompressed+dict reset", "lzma+props"}},
		{"empty block", []byte{0}, nil, nil},
	}
	for _, tt := range tests {
		for _, sizes := range []int64{-1, 0} {
			name := tt.name
			if sizes == 0 {
				name += " sizes in header"
			}
			t.Run(name, func(t *testing.T) {
				src := oneBlock(checkCRC32, tblock{data: tt.data, plain: tt.want, csize: sizes, usize: sizes})
				got, err := Decode(src, 1<<20)
				if err != nil {
					t.Fatalf("Decode(%s) = %v, want nil error", name, err)
				}
				if !bytes.Equal(got, tt.want) {
					t.Fatalf("Decode(%s) = %d bytes, want %d (%s)", name, len(got), len(tt.want),
						firstDiff(got, tt.want))
				}
				classes := controlClasses(controls(src))
				for _, c := range tt.classes {
					if !classes[c] {
						t.Errorf("test input %s has no %s chunk: %s", name, c, controls(src))
					}
				}
			})
		}
	}
	// zeros.xz covers the last kind, LZMA chunks that reset nothing.
	if cl := controlClasses(controls(readTestdata(t, "zeros.xz"))); !cl["lzma"] {
		t.Errorf("zeros.xz has no LZMA chunk without reset")
	}
}

// TestContainer decodes hand-built streams: every check type, several blocks with and without
// size fields, a stream without blocks, and concatenated streams with padding.
func TestContainer(t *testing.T) {
	plain, a, b, _ := pieces(t)
	blockA := tblock{data: append(lzmaChunk(3, a.props, a.usize, a.data), 0), plain: plain[:700],
		csize: omit, usize: omit}
	blockB := tblock{data: append(lzmaChunk(3, b.props, b.usize, b.data), 0), plain: plain[700:1400],
		csize: 0, usize: 0}
	two := append([]byte(nil), plain[:1400]...)
	tests := []struct {
		name string
		src  []byte
		want []byte
	}{
		{"check none", oneBlock(checkNone, blockA), plain[:700]},
		{"check crc32", oneBlock(checkCRC32, blockA), plain[:700]},
		{"check crc64", oneBlock(checkCRC64, blockA), plain[:700]},
		{"check sha256", oneBlock(checkSHA256, blockA), plain[:700]},
		{"two blocks", tstream{check: checkCRC64, blocks: []tblock{blockA, blockB}}.bytes(), two},
		{"header padding", oneBlock(checkCRC32, tblock{data: blockA.data, plain: blockA.plain,
			csize: omit, usize: omit, extraPad: 8}), plain[:700]},
		{"no blocks", tstream{check: checkCRC32}.bytes(), nil},
		{"concatenated with padding", bytes.Join([][]byte{
			oneBlock(checkCRC32, blockA), make([]byte, 4), tstream{check: checkNone}.bytes(),
			oneBlock(checkSHA256, blockB), make([]byte, 12)}, nil), two},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.src, 1<<20)
			if err != nil {
				t.Fatalf("Decode(%s) = %v, want nil error", tt.name, err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("Decode(%s) = %d bytes, want %d (%s)", tt.name, len(got), len(tt.want),
					firstDiff(got, tt.want))
			}
		})
	}
}

// TestErrors checks that each kind of bad input gives an error wrapping the right sentinel
// and saying what failed, at which byte.
func TestErrors(t *testing.T) {
	plain, a, b, c := pieces(t)
	pa := plain[:700]
	chunkA := lzmaChunk(3, a.props, a.usize, a.data)
	goodData := append(append([]byte(nil), chunkA...), 0)
	good := tblock{data: goodData, plain: pa, csize: omit, usize: omit}
	with := func(f func(*tblock)) []byte {
		b := good
		f(&b)
		return oneBlock(checkCRC32, b)
	}
	data := func(chunks ...[]byte) []byte {
		return with(func(b *tblock) { b.data = append(bytes.Join(chunks, nil), 0) })
	}
	stream := func(f func(*tstream)) []byte {
		s := tstream{check: checkCRC32, blocks: []tblock{good}}
		f(&s)
		return s.bytes()
	}
	goodSrc := oneBlock(checkCRC32, good)
	flip := func(src []byte, off int, x byte) []byte {
		s := append([]byte(nil), src...)
		s[off] ^= x
		return s
	}
	eopm := readTestdata(t, "eopm.lzma")
	tooFar := append([]byte{0, 0xFF, 0xFF, 0xFF, 0xFF}, bytes.Repeat([]byte{0xFF}, 40)...)
	tests := []struct {
		name     string
		src      []byte
		sentinel error
		re       string // the error must match this
	}{
		{"empty input", nil, ErrCorrupt, `stream header truncated \(0 of 12 bytes\) at byte 0`},
		{"not xz", []byte("hello, world, this is text"), ErrCorrupt, `stream header magic .* at byte 0`},
		{"header crc", flip(goodSrc, 6, 1), ErrCorrupt, `stream header CRC32 mismatch at byte 8`},
		{"reserved stream flags", stream(func(s *tstream) { s.flags0 = 1 }), ErrUnsupported,
			`stream flags 01 01 have reserved bits set at byte 6`},
		{"check type 2", stream(func(s *tstream) { s.check = 2 }), ErrUnsupported,
			`check type 0x02 .* at byte 7`},
		{"check type 0x0f", stream(func(s *tstream) { s.check = 0x0F }), ErrUnsupported,
			`check type 0x0f`},
		{"block header crc", flip(goodSrc, 13, 1), ErrCorrupt, `block header CRC32 mismatch at byte 12`},
		{"reserved block flags", with(func(b *tblock) { b.flagsOr = 0x04 }), ErrUnsupported,
			`block flags 0x04 have reserved bits set at byte 13`},
		{"header padding", with(func(b *tblock) { b.padByte = 1 }), ErrUnsupported,
			`block header padding is not zero`},
		{"bcj x86", with(func(b *tblock) { b.filters = [][]byte{{0x04, 0x00}, lzma2Filter(0x10)} }),
			ErrUnsupported, `filter 0x04 \(BCJ x86\) \(only LZMA2 is supported\) at byte 14`},
		{"delta", with(func(b *tblock) { b.filters = [][]byte{{0x03, 0x01, 0x00}, lzma2Filter(0x10)} }),
			ErrUnsupported, `filter 0x03 \(delta\)`},
		{"arm64", with(func(b *tblock) { b.filters = [][]byte{{0x0A, 0x00}, lzma2Filter(0x10)} }),
			ErrUnsupported, `filter 0x0a \(BCJ ARM64\)`},
		{"unknown filter", with(func(b *tblock) { b.filters = [][]byte{{0x55, 0x00}} }),
			ErrUnsupported, `filter 0x55 \(unknown\)`},
		{"lzma2 twice", with(func(b *tblock) { b.filters = [][]byte{lzma2Filter(0x10), lzma2Filter(0x10)} }),
			ErrUnsupported, `LZMA2 filter is not the last of 2 filters`},
		{"lzma2 props size", with(func(b *tblock) { b.filters = [][]byte{{0x21, 0x02, 0x10, 0x00}} }),
			ErrCorrupt, `LZMA2 filter properties are 2 bytes, want 1`},
		{"lzma2 dict byte", with(func(b *tblock) { b.filters = [][]byte{lzma2Filter(41)} }),
			ErrUnsupported, `LZMA2 dictionary size byte 0x29`},
		{"filter props overrun", with(func(b *tblock) { b.filters = [][]byte{{0x21, 0x7F, 0x10}} }),
			ErrCorrupt, `filter properties \(127 bytes\) overrun the block header`},
		{"bad vli", with(func(b *tblock) { b.filters = [][]byte{{0xFF, 0x00}} }),
			ErrCorrupt, `block header filter ID is not a valid number`},
		{"compressed size mismatch", with(func(b *tblock) { b.csize = int64(len(goodData) + 1) }),
			ErrCorrupt, `block data is \d+ bytes, the header declares \d+`},
		{"compressed size zero", with(func(b *tblock) { b.csize = zeroField }),
			ErrCorrupt, `block header declares compressed size 0`},
		{"compressed size past end", with(func(b *tblock) { b.csize = 5000 }),
			ErrCorrupt, `block data truncated \(\d+ of 5000 declared bytes\)`},
		{"uncompressed size mismatch", with(func(b *tblock) { b.usize = 701 }),
			ErrCorrupt, `block decodes to 700 bytes, the header declares 701`},
		{"check mismatch", with(func(b *tblock) { b.checkField = []byte{1, 2, 3, 4} }),
			ErrCorrupt, `block CRC32 mismatch`},
		{"crc64 mismatch", oneBlock(checkCRC64, tblock{data: goodData, plain: pa, csize: omit, usize: omit,
			checkField: make([]byte, 8)}), ErrCorrupt, `block CRC64 mismatch`},
		{"sha256 mismatch", oneBlock(checkSHA256, tblock{data: goodData, plain: pa, csize: omit,
			usize: omit, checkField: make([]byte, 32)}), ErrCorrupt, `block SHA-256 mismatch`},
		{"index count", stream(func(s *tstream) { s.records = [][2]uint64{} }),
			ErrCorrupt, `index lists 0 blocks, the stream has 1`},
		{"index unpadded", stream(func(s *tstream) {
			s.records = [][2]uint64{{uint64(12 + len(goodData) + 4 + 1), 700}}
		}), ErrCorrupt, `index record 0 \(unpadded \d+, uncompressed 700\) differs from the block`},
		{"index uncompressed", stream(func(s *tstream) {
			s.records = [][2]uint64{{uint64(12 + len(goodData) + 4), 699}}
		}), ErrCorrupt, `index record 0 \(unpadded \d+, uncompressed 699\) differs`},
		{"index crc", flip(goodSrc, len(goodSrc)-13, 1), ErrCorrupt, `index CRC32 mismatch`},
		{"backward size", stream(func(s *tstream) { s.backwardAdd = 1 }),
			ErrCorrupt, `backward size 16 differs from the index size 12`},
		{"footer flags", stream(func(s *tstream) { s.footerFlags = []byte{0, checkCRC64} }),
			ErrCorrupt, `stream footer flags 00 04 differ from the header's 00 01`},
		{"footer magic", flip(goodSrc, len(goodSrc)-1, 1), ErrCorrupt, `stream footer magic 59 5b`},
		{"footer crc", flip(goodSrc, len(goodSrc)-12, 1), ErrCorrupt, `stream footer CRC32 mismatch`},
		{"padding not multiple of 4", append(append([]byte(nil), goodSrc...), 0, 0), ErrCorrupt,
			fmt.Sprintf(`stream padding of 2 bytes \(not a multiple of 4\) at byte %d`, len(goodSrc))},
		{"garbage after stream", append(append([]byte(nil), goodSrc...), "\x00\x00\x00\x00garbage after the stream"...), ErrCorrupt,
			fmt.Sprintf(`stream header magic .* at byte %d`, len(goodSrc)+4)},
		{"no end marker", with(func(b *tblock) { b.data = chunkA; b.csize = omit }), ErrCorrupt, ``},
		{"first chunk keeps dictionary", data(lzmaChunk(0, 0, b.usize, b.data)), ErrCorrupt,
			`first LZMA2 chunk \(control 0x80\) does not reset the dictionary at byte 24`},
		{"first chunk uncompressed no reset", data(uncompressedChunk(false, []byte("x"))), ErrCorrupt,
			`first LZMA2 chunk \(control 0x02\) does not reset the dictionary`},
		{"props missing after dict reset", data(uncompressedChunk(true, []byte("x")),
			lzmaChunk(1, 0, b.usize, b.data)), ErrCorrupt,
			`LZMA2 chunk \(control 0x[ab][0-9a-f]\) without properties after a dictionary reset at byte 28`},
		{"invalid control", data(uncompressedChunk(true, []byte("x")), []byte{0x03}), ErrCorrupt,
			`invalid LZMA2 control byte 0x03 at byte 28`},
		{"lc+lp > 4", data(lzmaChunk(3, 4+9*1, a.usize, a.data)), ErrCorrupt,
			`invalid LZMA properties 0x0d \(lc\+lp > 4 or out of range\) at byte 29`},
		{"props out of range", data(lzmaChunk(3, 225, a.usize, a.data)), ErrCorrupt,
			`invalid LZMA properties 0xe1`},
		{"chunk compressed size too large", data(lzmaChunk(3, a.props, a.usize, append(a.data, 0))),
			ErrCorrupt, `compressed size does not match`},
		{"chunk compressed size too small", data(lzmaChunk(3, a.props, a.usize, a.data[:len(a.data)-1])),
			ErrCorrupt, `LZMA chunk: `},
		{"chunk uncompressed size too large", data(lzmaChunk(3, a.props, a.usize+1, a.data)),
			ErrCorrupt, `LZMA chunk: `},
		{"chunk uncompressed size too small", data(lzmaChunk(3, a.props, a.usize-1, a.data)),
			ErrCorrupt, `LZMA chunk: `},
		{"chunk first byte", data(lzmaChunk(3, a.props, a.usize, append([]byte{1}, a.data[1:]...))),
			ErrCorrupt, `range coder's first byte is not 0`},
		{"chunk shorter than coder init", data(lzmaChunk(3, a.props, 1, []byte{0, 0, 0})),
			ErrCorrupt, `compressed data ends before`},
		{"distance before dictionary", data(lzmaChunk(3, a.props, 100, tooFar)), ErrCorrupt,
			`match distance reaches before the start of the dictionary`},
		{"end marker", data(lzmaChunk(3, eopm[0], 510, eopm[13:])), ErrCorrupt,
			`end-of-payload marker inside an LZMA2 chunk`},
		{"chunk data truncated", data(lzmaChunk(3, a.props, a.usize, a.data))[:40], ErrCorrupt,
			`LZMA2 chunk data truncated`},
		{"uncompressed chunk truncated", data(uncompressedChunk(true, filler(100, 0)))[:24+3+50],
			ErrCorrupt, `uncompressed LZMA2 chunk truncated \(50 of 100 bytes\) at byte 27`},
		{"block padding", func() []byte {
			s := append([]byte(nil), goodSrc...)
			if p := 12 + 12 + len(goodData); p%4 != 0 {
				s[p] = 1
				return s
			}
			return nil
		}(), ErrCorrupt, `block padding is not zero|block header CRC32`},
	}
	_ = c
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.src == nil && tt.name != "empty input" {
				t.Skip("input not applicable")
			}
			got, err := Decode(tt.src, 1<<20)
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("Decode(%s) = %d bytes, %v; want an error wrapping %v", tt.name, len(got),
					err, tt.sentinel)
			}
			if !regexp.MustCompile(tt.re).MatchString(err.Error()) {
				t.Fatalf("Decode(%s) = %v; want an error matching %q", tt.name, err, tt.re)
			}
			if !strings.Contains(err.Error(), " at byte ") {
				t.Fatalf("Decode(%s) = %v; want an error naming a byte offset", tt.name, err)
			}
		})
	}
}

// badErr reports whether err is not what a bad input must give: an error wrapping ErrCorrupt or
// ErrUnsupported, or ErrTooLarge when the damage makes a size declare more than the limit.
func badErr(err error) bool {
	return err == nil || !(errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported) ||
		errors.Is(err, ErrTooLarge))
}

// TestTruncated decodes every proper prefix of single-stream files: each must fail as corrupt.
func TestTruncated(t *testing.T) {
	for _, name := range []string{"check-crc32.xz", "check-none.xz", "blocks.xz", "empty.xz"} {
		t.Run(name, func(t *testing.T) {
			src := readTestdata(t, name)
			for i := range len(src) {
				if _, err := Decode(src[:i], 1<<20); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Decode(%s[:%d]) = %v, want an error wrapping ErrCorrupt", name, i, err)
				}
			}
		})
	}
}

// structureOf names the part of a single-stream, one-block file that byte off belongs to.
func structureOf(src []byte, off int) string {
	hsize := (int(src[12]) + 1) * 4
	switch {
	case off < 12:
		return "stream header"
	case off >= len(src)-12:
		return "stream footer"
	case off < 12+hsize:
		return "block header"
	}
	return "block data, check or index"
}

// TestFlipped flips bits in every byte of files whose every byte is covered by a check, a
// CRC32, a magic, a must-be-zero rule or the range coder's end state: every flip must fail.
func TestFlipped(t *testing.T) {
	for _, name := range []string{"check-crc32.xz", "check-crc64.xz", "check-sha256.xz", "kbuild.xz"} {
		t.Run(name, func(t *testing.T) {
			src := readTestdata(t, name)
			s := append([]byte(nil), src...)
			for i := range s {
				for _, x := range []byte{0x01, 0x80, 0xFF} {
					s[i] ^= x
					_, err := Decode(s, 1<<20)
					s[i] ^= x
					if badErr(err) {
						t.Fatalf("Decode(%s with byte %d (%s) ^ 0x%02x) = %v, want an error wrapping "+
							"ErrCorrupt, ErrUnsupported or ErrTooLarge", name, i, structureOf(src, i), x, err)
					}
				}
			}
		})
	}
}

// TestCheckNoneFlips: without a check, a flip in the compressed data may decode to other bytes,
// but it must never panic, and the range coder's end state still catches most.
func TestCheckNoneFlips(t *testing.T) {
	src := readTestdata(t, "check-none.xz")
	plain := readTestdata(t, "plain.txt")
	s := append([]byte(nil), src...)
	undetected := 0
	for i := range s {
		s[i] ^= 0x10
		out, err := Decode(s, 1<<20)
		s[i] ^= 0x10
		if err == nil && !bytes.Equal(out, plain) {
			undetected++
		} else if err != nil && badErr(err) {
			t.Fatalf("Decode(check-none.xz with byte %d flipped) = %v, want an error wrapping "+
				"ErrCorrupt, ErrUnsupported or ErrTooLarge", i, err)
		}
	}
	if undetected > 0 {
		t.Logf("%d of %d flips decoded to other bytes without an error (no check)", undetected, len(s))
	}
}

// TestLimit checks that output beyond the limit fails with ErrTooLarge, whether the size comes
// from the index, a block header or only from decoding.
func TestLimit(t *testing.T) {
	plain, a, _, _ := pieces(t)
	noIndexSizes := func(src []byte) []byte {
		// Corrupt the footer's CRC: the index cannot be read from the end, so Decode learns
		// the size while decoding (and fails on the footer after the output is done).
		s := append([]byte(nil), src...)
		s[len(s)-12] ^= 1
		return s
	}
	data := append(lzmaChunk(3, a.props, a.usize, a.data), 0)
	tests := []struct {
		name  string
		src   []byte
		limit int
		want  error
	}{
		{"exact", readTestdata(t, "check-crc32.xz"), len(plain), nil},
		{"one short (index)", readTestdata(t, "check-crc32.xz"), len(plain) - 1, ErrTooLarge},
		{"zero limit empty", readTestdata(t, "empty.xz"), 0, nil},
		{"negative limit", readTestdata(t, "check-crc32.xz"), -1, ErrTooLarge},
		{"bomb", readTestdata(t, "zeros.xz"), 1 << 20, ErrTooLarge},
		{"bomb no index", noIndexSizes(readTestdata(t, "zeros.xz")), 1 << 20, ErrTooLarge},
		{"one short (block header)", noIndexSizes(oneBlock(checkCRC32, tblock{data: data,
			plain: plain[:700], csize: 0, usize: 0})), 699, ErrTooLarge},
		{"one short (decoding)", noIndexSizes(oneBlock(checkCRC32, tblock{data: data,
			plain: plain[:700], csize: omit, usize: omit})), 699, ErrTooLarge},
		{"exact (decoding)", noIndexSizes(oneBlock(checkCRC32, tblock{data: data,
			plain: plain[:700], csize: omit, usize: omit})), 700, ErrCorrupt},
		{"concatenated", readTestdata(t, "concat.xz"), len(plain) - 1, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Decode(tt.src, tt.limit)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Decode(%s, %d) = %d bytes, %v; want %v", tt.name, tt.limit, len(out), err, tt.want)
			}
			if err == nil && len(out) > max(tt.limit, 0) {
				t.Fatalf("Decode(%s, %d) = %d bytes, over the limit", tt.name, tt.limit, len(out))
			}
		})
	}
}

func TestSHA256(t *testing.T) {
	data := sampleText(1000)
	for _, n := range []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 1000} {
		if got, want := sha256Sum(data[:n]), sha256.Sum256(data[:n]); got != want {
			t.Errorf("sha256Sum(%d bytes) = %x, want %x", n, got, want)
		}
	}
}

func TestVLI(t *testing.T) {
	tests := []struct {
		in    []byte
		v     uint64
		n     int
		valid bool
	}{
		{[]byte{0x00}, 0, 1, true},
		{[]byte{0x7F}, 127, 1, true},
		{[]byte{0x80, 0x01}, 128, 2, true},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, 1<<63 - 1, 9, true},
		{[]byte{0x80, 0x00}, 0, 0, false},                                                 // not minimal
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 0, 0, false}, // 10 bytes
		{[]byte{0x80}, 0, 0, false},                                                       // truncated
		{nil, 0, 0, false},
	}
	for _, tt := range tests {
		v, n := vli(tt.in)
		if (n != 0) != tt.valid || v != tt.v || n != tt.n {
			t.Errorf("vli(% x) = %d, %d; want %d, %d", tt.in, v, n, tt.v, tt.n)
		}
	}
}

// TestConcurrent decodes fixtures from several goroutines at once (run it with -race): the
// decoders reused through the pool must not be shared.
func TestConcurrent(t *testing.T) {
	plain := readTestdata(t, "plain.txt")
	names := []string{"preset-6.xz", "lc4-lp0.xz", "lc0-lp4-pb0.xz", "blocks.xz", "check-sha256.xz"}
	srcs := map[string][]byte{}
	for _, name := range names {
		srcs[name] = readTestdata(t, name)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 50 {
				name := names[(g+i)%len(names)]
				got, err := Decode(srcs[name], 1<<20)
				if err != nil || !bytes.Equal(got, plain) {
					errs <- fmt.Errorf("Decode(%s) = %d bytes, %v; want plain.txt", name, len(got), err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
