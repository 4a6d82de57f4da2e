package unzstd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// Handmade frames: a small frame writer, enough to put every header field size, block type,
// literals type and sequence mode that the zstd CLI rarely or never writes into a test.
// Every frame that should decode is also checked against klauspost/compress/zstd and
// `zstd -dc`, so a mistake in the writer cannot make a wrong decoder pass.

// hdr describes a frame header.
type hdr struct {
	fcs      int64 // content size; -1 for none
	fcsBytes int   // 0 (choose like zstd), 1, 2, 4 or 8
	single   bool
	window   byte // Window_Descriptor when !single
	dictID   uint32
	didBytes int // 0, 1, 2 or 4
	checksum bool
}

func (h hdr) bytes() []byte {
	b := binary.LittleEndian.AppendUint32(nil, frameMagic)
	fcsBytes := h.fcsBytes
	if h.fcs >= 0 && fcsBytes == 0 {
		switch {
		case h.fcs < 256 && h.single:
			fcsBytes = 1
		case h.fcs < 65536+256:
			fcsBytes = 2
		case h.fcs < 1<<32:
			fcsBytes = 4
		default:
			fcsBytes = 8
		}
	}
	var fhd byte
	switch fcsBytes {
	case 1:
		if !h.single {
			panic("a 1-byte content size needs a single-segment frame")
		}
	case 2:
		fhd |= 1 << 6
	case 4:
		fhd |= 2 << 6
	case 8:
		fhd |= 3 << 6
	}
	if h.single {
		fhd |= 1 << 5
	}
	if h.checksum {
		fhd |= 1 << 2
	}
	fhd |= map[int]byte{0: 0, 1: 1, 2: 2, 4: 3}[h.didBytes]
	b = append(b, fhd)
	if !h.single {
		b = append(b, h.window)
	}
	b = binary.LittleEndian.AppendUint32(b, h.dictID)[:len(b)+h.didBytes]
	switch fcsBytes {
	case 1:
		b = append(b, byte(h.fcs))
	case 2:
		b = binary.LittleEndian.AppendUint16(b, uint16(h.fcs-256))
	case 4:
		b = binary.LittleEndian.AppendUint32(b, uint32(h.fcs))
	case 8:
		b = binary.LittleEndian.AppendUint64(b, uint64(h.fcs))
	}
	return b
}

// frame assembles a frame from a header and blocks; the last block gets the Last_Block bit.
// With h.checksum the checksum of content is appended.
func frame(h hdr, content []byte, blocks ...[]byte) []byte {
	b := h.bytes()
	for i, blk := range blocks {
		blk = bytes.Clone(blk)
		if i == len(blocks)-1 {
			blk[0] |= 1
		}
		b = append(b, blk...)
	}
	if h.checksum {
		var x xxh64
		x.reset()
		x.write(content)
		b = binary.LittleEndian.AppendUint32(b, uint32(x.sum()))
	}
	return b
}

func blockHeader(typ, size int) []byte {
	v := uint32(size)<<3 | uint32(typ)<<1
	return []byte{byte(v), byte(v >> 8), byte(v >> 16)}
}

func rawBlock(data []byte) []byte { return append(blockHeader(0, len(data)), data...) }

func rleBlock(c byte, n int) []byte { return append(blockHeader(1, n), c) }

func compBlock(content []byte) []byte {
	return append(blockHeader(2, len(content)), content...)
}

// rawLits is a Raw_Literals_Block section.
func rawLits(data []byte) []byte {
	return append(litsHeader(0, len(data)), data...)
}

// rleLits is an RLE_Literals_Block section.
func rleLits(c byte, n int) []byte { return append(litsHeader(1, n), c) }

func litsHeader(typ byte, n int) []byte {
	switch {
	case n < 32:
		return []byte{byte(n<<3) | typ}
	case n < 4096:
		return []byte{byte(n<<4) | 1<<2 | typ, byte(n >> 4)}
	default:
		return []byte{byte(n<<4) | 3<<2 | typ, byte(n >> 4), byte(n >> 12)}
	}
}

// seq is one sequence for seqSection: codes and extra-bit values. With RLE modes every sequence
// of a block has the same three codes, so only the extra bits vary.
type seq struct{ llExtra, mlExtra, ofExtra uint64 }

// bitWriter writes a backward bitstream: the decoder reads the last field written first.
type bitWriter struct {
	buf []byte
	acc uint64
	n   uint
}

func (w *bitWriter) write(v uint64, nb uint) {
	w.acc |= v << w.n
	w.n += nb
	for w.n >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

func (w *bitWriter) close() []byte {
	w.write(1, 1)
	if w.n > 0 {
		w.buf = append(w.buf, byte(w.acc))
	}
	return w.buf
}

// rleSeqs is a sequences section whose three tables are in RLE mode with the given codes,
// followed by the bitstream of seqs. With repeat set the tables are in Repeat_Mode instead,
// and the codes must be those of the RLE tables being repeated (they give the bit widths).
func rleSeqs(llCode, ofCode, mlCode byte, repeat bool, seqs []seq) []byte {
	b := seqCount(len(seqs))
	if repeat {
		b = append(b, 0xFC)
	} else {
		b = append(b, 0x54, llCode, ofCode, mlCode)
	}
	var w bitWriter
	llBits := uint(llCodes[llCode].addBits)
	mlBits := uint(mlCodes[mlCode].addBits)
	ofBits := uint(ofCode)
	for i := len(seqs) - 1; i >= 0; i-- {
		w.write(seqs[i].llExtra, llBits)
		w.write(seqs[i].mlExtra, mlBits)
		w.write(seqs[i].ofExtra, ofBits)
	}
	return append(b, w.close()...)
}

func seqCount(n int) []byte {
	switch {
	case n < 128:
		return []byte{byte(n)}
	case n < 0x7F00:
		return []byte{byte(n>>8) + 128, byte(n)}
	default:
		n -= 0x7F00
		return []byte{255, byte(n), byte(n >> 8)}
	}
}

// lz is a plain reference executor for sequences given as (literal length, Offset_Value,
// match length), with the repeat-offset rules of RFC 8878 section 3.1.2.5 written out
// independently of the decoder's.
type lz struct {
	out []byte
	rep [3]int
}

func newLZ(history []byte) *lz { return &lz{out: bytes.Clone(history), rep: [3]int{1, 4, 8}} }

func (z *lz) exec(lits []byte, ll, ov, ml int) []byte {
	z.out = append(z.out, lits[:ll]...)
	var off int
	switch {
	case ov > 3:
		off = ov - 3
		z.rep = [3]int{off, z.rep[0], z.rep[1]}
	default:
		i := ov - 1
		if ll == 0 {
			i++
		}
		switch i {
		case 0:
			off = z.rep[0]
		case 1:
			off = z.rep[1]
			z.rep = [3]int{off, z.rep[0], z.rep[2]}
		case 2:
			off = z.rep[2]
			z.rep = [3]int{off, z.rep[0], z.rep[1]}
		case 3:
			off = z.rep[0] - 1
			z.rep = [3]int{off, z.rep[0], z.rep[1]}
		}
	}
	for k := 0; k < ml; k++ {
		z.out = append(z.out, z.out[len(z.out)-off])
	}
	return lits[ll:]
}

// checkOracles decodes a frame that must be valid with klauspost/compress/zstd and, when it is
// installed, the zstd CLI, and compares with want.
func checkOracles(t *testing.T, src, want []byte) {
	t.Helper()
	got, err := klauspost().DecodeAll(src, nil)
	if err != nil {
		t.Errorf("klauspost DecodeAll error: %v", err)
	} else if !bytes.Equal(got, want) {
		t.Errorf("klauspost DecodeAll = %d bytes, want %d; first difference at %d",
			len(got), len(want), firstDiff(got, want))
	}
	if _, err := exec.LookPath("zstd"); err != nil {
		return
	}
	cmd := exec.Command("zstd", "-dcq")
	cmd.Stdin = bytes.NewReader(src)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err = cmd.Output()
	if err != nil {
		t.Errorf("zstd -dc error: %v: %s", err, stderr.Bytes())
	} else if !bytes.Equal(got, want) {
		t.Errorf("zstd -dc = %d bytes, want %d; first difference at %d", len(got), len(want),
			firstDiff(got, want))
	}
}

func seqBlock(lits []byte, seqs []byte) []byte {
	return compBlock(append(bytes.Clone(lits), seqs...))
}

func counting(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// TestHandmadeValid decodes handmade frames that must decode, checking the output against a
// value computed independently and against both oracles.
func TestHandmadeValid(t *testing.T) {
	hist := counting(200)

	// Sequences in RLE mode, each block exercising different repeat-offset rules. The
	// reference executor computes the expected output.
	var rleCases []byte // frame bytes
	var rleWant []byte
	{
		z := newLZ(hist)
		lits := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz")
		// Block 1: LL code 4 (4 literals), OF code 5 (Offset_Value 32..63: new offsets
		// 29..60), ML code 10 (13 bytes).
		b1s := []seq{{0, 0, 3}, {0, 0, 17}, {0, 0, 31}, {0, 0, 0}}
		rest := lits
		for _, s := range b1s {
			rest = z.exec(rest, 4, 32+int(s.ofExtra), 13)
		}
		b1 := seqBlock(rawLits(lits[:4*len(b1s)]), rleSeqs(4, 5, 10, false, b1s))
		_ = rest
		// Block 2: LL code 0 (no literals) and OF code 1 (Offset_Value 2 or 3): with no
		// literals these mean Repeated_Offset3 and Repeated_Offset1 - 1. ML code 35 (41,42).
		b2s := []seq{{0, 0, 0}, {0, 1, 1}, {0, 0, 0}, {0, 1, 1}, {0, 0, 1}}
		for _, s := range b2s {
			z.exec(nil, 0, 2+int(s.ofExtra), 41+int(s.mlExtra))
		}
		b2 := seqBlock(rawLits(nil), rleSeqs(0, 1, 35, false, b2s))
		// Block 3: OF code 0 (Offset_Value 1) with no literals: Repeated_Offset2.
		b3s := []seq{{0, 0, 0}, {0, 0, 0}, {0, 0, 0}}
		for range b3s {
			z.exec(nil, 0, 1, 5)
		}
		b3 := seqBlock(rawLits(nil), rleSeqs(0, 0, 2, false, b3s))
		// Block 4: RLE literals, LL code 16 (16 or 17 literals), OF code 1 with literals:
		// Repeated_Offset2 and 3; then Repeat_Mode in block 5 reuses all three tables.
		b4s := []seq{{1, 0, 0}, {0, 0, 1}, {1, 0, 1}, {0, 0, 0}}
		zs := bytes.Repeat([]byte{'z'}, 66)
		rest = zs
		for _, s := range b4s {
			rest = z.exec(rest, 16+int(s.llExtra), 2+int(s.ofExtra), 3)
		}
		z.out = append(z.out, rest...)
		b4 := seqBlock(rleLits('z', len(zs)), rleSeqs(16, 1, 0, false, b4s))
		b5s := []seq{{0, 0, 1}, {1, 0, 0}}
		zs = bytes.Repeat([]byte{'q'}, 33)
		rest = zs
		for _, s := range b5s {
			rest = z.exec(rest, 16+int(s.llExtra), 2+int(s.ofExtra), 3)
		}
		b5 := seqBlock(rleLits('q', len(zs)), rleSeqs(16, 1, 0, true, b5s))
		rleWant = z.out
		rleCases = frame(hdr{fcs: int64(len(rleWant)), checksum: true, window: 0x08}, rleWant,
			rawBlock(hist), b1, b2, b3, b4, b5)
	}

	// An offset of exactly the window size (1 KiB) is allowed.
	win := counting(1024)
	winWant := append(bytes.Clone(win), win[:3]...)
	winFrame := frame(hdr{fcs: -1, window: 0}, nil, rawBlock(win[:512]), rawBlock(win[512:]),
		seqBlock(rawLits(nil), rleSeqs(0, 10, 0, false, []seq{{0, 0, 1027 - 1024}})))

	big := counting(70000)
	cases := []struct {
		name string
		src  []byte
		want []byte
	}{
		{"empty raw block", frame(hdr{fcs: 0, single: true}, nil, rawBlock(nil)), nil},
		{"empty with window, no size", frame(hdr{fcs: -1, window: 0}, nil, rawBlock(nil)), nil},
		{"empty with checksum", frame(hdr{fcs: -1, checksum: true}, nil, rawBlock(nil)), nil},
		{"raw", frame(hdr{fcs: 5, single: true}, nil, rawBlock([]byte("hello"))), []byte("hello")},
		{"rle", frame(hdr{fcs: 1000, checksum: true}, bytes.Repeat([]byte{7}, 1000),
			rleBlock(7, 1000)), bytes.Repeat([]byte{7}, 1000)},
		{"raw and rle blocks", frame(hdr{fcs: -1, window: 0x30}, nil, rawBlock([]byte("ab")),
			rleBlock('c', 3), rawBlock(nil), rleBlock('d', 0), rawBlock([]byte("e"))),
			[]byte("abccce")},
		{"fcs 1 byte", frame(hdr{fcs: 3, fcsBytes: 1, single: true}, nil, rawBlock([]byte("abc"))),
			[]byte("abc")},
		{"fcs 2 bytes", frame(hdr{fcs: 300, fcsBytes: 2, single: true}, nil, rleBlock('x', 300)),
			bytes.Repeat([]byte{'x'}, 300)},
		{"fcs 4 bytes", frame(hdr{fcs: 3, fcsBytes: 4, window: 0}, nil, rawBlock([]byte("abc"))),
			[]byte("abc")},
		{"fcs 8 bytes", frame(hdr{fcs: 3, fcsBytes: 8, single: true}, nil, rawBlock([]byte("abc"))),
			[]byte("abc")},
		{"fcs 2 bytes multi-block", frame(hdr{fcs: 70000, single: true, checksum: true}, big,
			rawBlock(big[:65536]), rawBlock(big[65536:])), big},
		{"dictionary ID field 1 byte, zero", frame(hdr{fcs: -1, didBytes: 1}, nil,
			rawBlock([]byte("abc"))), []byte("abc")},
		{"dictionary ID field 2 bytes, zero", frame(hdr{fcs: 3, didBytes: 2, single: true}, nil,
			rawBlock([]byte("abc"))), []byte("abc")},
		{"dictionary ID field 4 bytes, zero", frame(hdr{fcs: -1, didBytes: 4, checksum: true},
			[]byte("abc"), rawBlock([]byte("abc"))), []byte("abc")},
		{"window mantissa", frame(hdr{fcs: -1, window: 0x0F}, nil, rawBlock([]byte("abc"))),
			[]byte("abc")},
		{"RLE literals, no sequences", frame(hdr{fcs: -1}, nil,
			compBlock(append(rleLits('y', 40), 0))), bytes.Repeat([]byte{'y'}, 40)},
		{"raw literals, no sequences", frame(hdr{fcs: -1, window: 0x18}, nil,
			compBlock(append(rawLits(counting(5000)), 0))), counting(5000)},
		{"RLE sequences and repeat offsets", rleCases, rleWant},
		{"offset equal to the window", winFrame, winWant},
		{"concatenated frames", append(frame(hdr{fcs: 2, single: true}, nil, rawBlock([]byte("ab"))),
			frame(hdr{fcs: -1, checksum: true}, []byte("cd"), rawBlock([]byte("cd")))...),
			[]byte("abcd")},
		{"skippable frames", bytes.Join([][]byte{
			skippable(0x184D2A50, nil),
			frame(hdr{fcs: 2, single: true}, nil, rawBlock([]byte("ab"))),
			skippable(0x184D2A5F, []byte("ignored")),
			frame(hdr{fcs: 1, single: true}, nil, rawBlock([]byte("c"))),
			skippable(0x184D2A57, bytes.Repeat([]byte{0xFF}, 100)),
		}, nil), []byte("abc")},
		{"only a skippable frame", skippable(0x184D2A53, []byte("x")), nil},
	}
	census := map[string]int{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decode(c.src, 1<<20, census)
			if err != nil {
				t.Fatalf("Decode(%d bytes) error: %v", len(c.src), err)
			}
			if !bytes.Equal(got, c.want) {
				t.Fatalf("Decode = %d bytes, want %d; first difference at %d", len(got), len(c.want),
					firstDiff(got, c.want))
			}
			if got == nil {
				t.Errorf("Decode = nil, want an empty non-nil slice")
			}
			if len(c.src) > 4 && binary.LittleEndian.Uint32(c.src) == frameMagic {
				checkOracles(t, c.src, c.want)
			}
		})
	}
	for _, k := range []string{"lit/rle", "seq/offsets/rle", "seq/literal lengths/repeat",
		"seq/offsets/repeat", "seq/match lengths/repeat", "seq/offset rep1-1", "frame/fcs1",
		"frame/fcs8", "frame/did1", "frame/did2", "frame/did4", "frame/skippable"} {
		if census[k] == 0 {
			t.Errorf("no handmade frame has feature %s", k)
		}
	}
}

func skippable(magic uint32, data []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// TestHandmadeInvalid checks that invalid frames fail with the right sentinel.
func TestHandmadeInvalid(t *testing.T) {
	hist := counting(100)
	ok := frame(hdr{fcs: 3, single: true}, nil, rawBlock([]byte("abc")))
	withSum := frame(hdr{fcs: -1, checksum: true}, []byte("abc"), rawBlock([]byte("abc")))
	badSum := bytes.Clone(withSum)
	badSum[len(badSum)-1] ^= 1
	reserved := bytes.Clone(ok)
	reserved[4] |= 0x08
	cases := []struct {
		name    string
		src     []byte
		want    error
		message string // a substring of the error text
	}{
		{"empty input", nil, ErrCorrupt, "empty input"},
		{"bad magic", []byte("not zstd"), ErrCorrupt, "bad magic number"},
		{"trailing garbage", append(bytes.Clone(ok), 1, 2, 3, 4, 5), ErrCorrupt, "byte 12: bad magic"},
		{"trailing short garbage", append(bytes.Clone(ok), 0), ErrCorrupt, "trailing"},
		{"reserved header bit", reserved, ErrCorrupt, "reserved bit"},
		{"dictionary", frame(hdr{fcs: -1, dictID: 0xABCD, didBytes: 2}, nil, rawBlock(nil)),
			ErrUnsupported, "dictionary ID 43981"},
		{"dictionary 4 bytes", frame(hdr{fcs: -1, dictID: 1 << 30, didBytes: 4}, nil,
			rawBlock(nil)), ErrUnsupported, "dictionary ID 1073741824"},
		{"checksum mismatch", badSum, ErrCorrupt, "checksum"},
		{"checksum missing", withSum[:len(withSum)-4], ErrCorrupt, "checksum truncated"},
		{"content size too small", frame(hdr{fcs: 2, fcsBytes: 4}, nil, rawBlock([]byte("abc"))),
			ErrCorrupt, "content size"},
		{"content size too large", frame(hdr{fcs: 4, single: true}, nil, rawBlock([]byte("abc"))),
			ErrCorrupt, "header says 4"},
		{"content size beyond the input", frame(hdr{fcs: 1 << 19}, nil, rawBlock([]byte("abc"))),
			ErrCorrupt, "cannot come from"},
		{"reserved block type", frame(hdr{fcs: -1}, nil, append(blockHeader(3, 0), 0)),
			ErrCorrupt, "reserved block type"},
		{"block larger than the window", frame(hdr{fcs: -1, window: 0}, nil,
			rawBlock(counting(1025))), ErrCorrupt, "block size 1025 exceeds the maximum 1024"},
		{"block larger than 128 KiB", frame(hdr{fcs: -1, window: 0x50}, nil,
			rleBlock(0, 128<<10+1)), ErrCorrupt, "exceeds the maximum 131072"},
		{"truncated raw block", frame(hdr{fcs: -1}, nil, rawBlock(counting(10)))[:12],
			ErrCorrupt, "truncated"},
		{"no last block", frame(hdr{fcs: -1}, nil, rawBlock(nil), rawBlock(nil))[:9],
			ErrCorrupt, "block header truncated"},
		{"empty compressed block", frame(hdr{fcs: -1}, nil, compBlock(nil)), ErrCorrupt,
			"empty compressed block"},
		{"bytes after no sequences", frame(hdr{fcs: -1}, nil,
			compBlock(append(rawLits([]byte("ab")), 0, 0))), ErrCorrupt, "without sequences"},
		{"treeless literals first", frame(hdr{fcs: -1}, nil,
			compBlock([]byte{0x03 | 5<<4, 0, 1, 0x80, 0, 0, 0, 0})), ErrCorrupt, "treeless"},
		{"repeat mode first", frame(hdr{fcs: -1}, nil, rawBlock(hist),
			seqBlock(rawLits([]byte("ab")), rleSeqs(0, 0, 0, true, []seq{{}}))), ErrCorrupt,
			"repeat mode without"},
		{"reserved sequence mode bits", frame(hdr{fcs: -1}, nil,
			compBlock(append(rawLits(nil), 1, 0x01, 0x80))), ErrCorrupt, "reserved bits"},
		{"RLE offset code too large", frame(hdr{fcs: -1}, nil,
			compBlock(append(rawLits(nil), 1, 0x54, 0, 32, 0, 0x80))), ErrCorrupt,
			"offsets RLE code 32"},
		{"RLE literal length code too large", frame(hdr{fcs: -1}, nil,
			compBlock(append(rawLits(nil), 1, 0x54, 36, 0, 0, 0x80))), ErrCorrupt,
			"literal lengths RLE code 36"},
		{"offset before the output", frame(hdr{fcs: -1}, nil, rawBlock(hist),
			seqBlock(rawLits(nil), rleSeqs(0, 6, 0, false, []seq{{0, 0, 101 + 3 - 64}}))),
			ErrCorrupt, "offset 101 reaches before"},
		{"offset beyond the window", frame(hdr{fcs: -1, window: 0}, nil, rawBlock(counting(1000)),
			rawBlock(counting(1000)), seqBlock(rawLits(nil),
				rleSeqs(0, 10, 0, false, []seq{{0, 0, 1028 - 1024}}))),
			ErrCorrupt, "offset 1025 exceeds the window size 1024"},
		{"repeat offset 1 minus 1 is zero", frame(hdr{fcs: -1}, nil, rawBlock(hist),
			seqBlock(rawLits([]byte("a")), rleSeqs(1, 2, 0, false, []seq{{0, 0, 0}})),
			seqBlock(rawLits(nil), rleSeqs(0, 1, 0, false, []seq{{0, 0, 1}}))),
			ErrCorrupt, "repeat offset 1 minus one is zero"},
		{"more literals than there are", frame(hdr{fcs: -1}, nil, rawBlock(hist),
			seqBlock(rawLits([]byte("ab")), rleSeqs(3, 0, 0, false, []seq{{}}))), ErrCorrupt,
			"wants 3 literals, 2 are left"},
		{"sequences bitstream with extra bits", frame(hdr{fcs: -1}, nil, rawBlock(hist),
			seqBlock(rawLits(nil), append(rleSeqs(0, 0, 0, false, []seq{{}}), 1))), ErrCorrupt,
			"not consumed exactly"},
		{"sequences bitstream without marker", frame(hdr{fcs: -1}, nil, rawBlock(hist),
			seqBlock(rawLits(nil), append(rleSeqs(0, 0, 0, false, []seq{{}}), 0))), ErrCorrupt,
			"bad or empty"},
		{"block output above 128 KiB", frame(hdr{fcs: -1, window: 0x50}, nil, rawBlock(hist),
			seqBlock(rawLits(nil), rleSeqs(0, 0, 52, false, []seq{{0, 0xFFFF, 0}, {0, 0, 0}}))),
			ErrCorrupt, "more than the maximum 131072"},
		// The 5-byte literals header has 36 bits: the top byte must not overflow on 32-bit
		// platforms (it did, into a negative size).
		{"literals size in the header's top byte", frame(hdr{fcs: -1}, nil,
			compBlock([]byte{0x02 | 3<<2, 0, 0, 0, 0xFF, 0, 0})), ErrCorrupt,
			"bytes of compressed literals truncated"},
		{"literals above the window", frame(hdr{fcs: -1, window: 0}, nil,
			compBlock(append(rleLits('x', 1025), 0))), ErrCorrupt, "1025 literals exceed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.src, 1<<20)
			if !errors.Is(err, c.want) {
				t.Fatalf("Decode(%x) = %d bytes, %v; want an error wrapping %v", c.src, len(got), err,
					c.want)
			}
			if got != nil {
				t.Errorf("Decode returned %d bytes with its error, want nil", len(got))
			}
			if !strings.Contains(err.Error(), c.message) {
				t.Errorf("Decode error %q does not mention %q", err, c.message)
			}
			if !strings.HasPrefix(err.Error(), "unzstd: byte ") {
				t.Errorf("Decode error %q does not start with the byte offset", err)
			}
		})
	}
}

// TestLimit checks the output limit on every path that produces output.
func TestLimit(t *testing.T) {
	big := counting(5000)
	frames := map[string][]byte{
		"raw with size": frame(hdr{fcs: 5000, single: true}, nil, rawBlock(big)),
		"raw without size": frame(hdr{fcs: -1, window: 0x18}, nil, rawBlock(big[:2500]),
			rawBlock(big[2500:])),
		"rle": frame(hdr{fcs: -1, window: 0x18}, nil, rleBlock(1, 2500), rleBlock(2, 2500)),
		"literals only": frame(hdr{fcs: -1, window: 0x18}, nil,
			compBlock(append(rleLits('y', 5000), 0))),
		// One match of 4900 bytes (code 48: 4099 + 801) at offset 100 (Offset_Value 103,
		// code 6: 64 + 39).
		"sequences": frame(hdr{fcs: -1, window: 0x18}, nil, rawBlock(big[:100]),
			seqBlock(rawLits(nil), rleSeqs(0, 6, 48, false, []seq{{0, 801, 39}}))),
		"two frames": append(frame(hdr{fcs: 2500, single: true}, nil, rawBlock(big[:2500])),
			frame(hdr{fcs: 2500, single: true}, nil, rawBlock(big[2500:]))...),
	}
	for name, src := range frames {
		t.Run(name, func(t *testing.T) {
			out, err := Decode(src, 5000)
			if err != nil {
				t.Fatalf("Decode(limit 5000) error: %v", err)
			}
			if len(out) != 5000 {
				t.Fatalf("Decode(limit 5000) = %d bytes, want 5000", len(out))
			}
			for _, limit := range []int{4999, 2500, 1, 0, -1} {
				if _, err := Decode(src, limit); !errors.Is(err, ErrTooLarge) {
					t.Errorf("Decode(limit %d) error %v, want ErrTooLarge", limit, err)
				}
			}
		})
	}
}

// TestCorruptionNeverPanics truncates the small fixtures at every length and flips every bit
// of them: each result is either an error wrapping ErrCorrupt or ErrUnsupported, or (when a
// flip leaves the data valid, or a cut falls between two frames) the same output as
// klauspost/compress/zstd's, which must accept it too.
func TestCorruptionNeverPanics(t *testing.T) {
	srcs := fixtureFrames(t)
	for name, src := range srcs {
		if len(src) > 2000 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			for n := 0; n < len(src); n++ {
				got, err := Decode(src[:n], 1<<20)
				if err == nil {
					want, kerr := klauspost().DecodeAll(src[:n], nil)
					if kerr != nil || !bytes.Equal(got, want) {
						t.Fatalf("Decode(first %d of %d bytes) = %d bytes, nil; klauspost %d bytes, %v",
							n, len(src), len(got), len(want), kerr)
					}
				} else if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Decode(first %d of %d bytes) error %v, want ErrCorrupt", n, len(src), err)
				}
			}
			mut := bytes.Clone(src)
			for i := range mut {
				for bit := 0; bit < 8; bit++ {
					mut[i] ^= 1 << bit
					got, err := Decode(mut, 1<<20)
					switch {
					case errors.Is(err, ErrCorrupt), errors.Is(err, ErrUnsupported),
						errors.Is(err, ErrTooLarge):
					case err != nil:
						t.Fatalf("flip byte %d bit %d: error %v wraps no sentinel", i, bit, err)
					default:
						want, kerr := klauspost().DecodeAll(mut, nil)
						if kerr == nil && !bytes.Equal(got, want) {
							t.Fatalf("flip byte %d bit %d: Decode and klauspost disagree at byte %d",
								i, bit, firstDiff(got, want))
						}
					}
					mut[i] ^= 1 << bit
				}
			}
		})
	}
}

func TestErrorsName(t *testing.T) {
	for _, e := range []error{ErrCorrupt, ErrUnsupported, ErrTooLarge} {
		if e.Error() == "" || errors.Is(e, errStrict) {
			t.Errorf("sentinel %v: want a message and no relation to errStrict", e)
		}
	}
	err := strictf(7, "x %d", 1)
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, errStrict) {
		t.Errorf("strictf = %v, want it to wrap ErrCorrupt and errStrict", err)
	}
	if got, want := err.Error(), fmt.Sprintf("unzstd: byte 7: x 1: %v (%v)", ErrCorrupt,
		errStrict); got != want {
		t.Errorf("strictf = %q, want %q", got, want)
	}
}

// TestConcurrent decodes the fixtures from several goroutines at once: decoders come from a
// pool and the predefined tables are built once, which the race detector checks here.
func TestConcurrent(t *testing.T) {
	frames := fixtureFrames(t)
	want := map[string][]byte{}
	for name, src := range frames {
		out, err := Decode(src, 1<<20)
		if err != nil {
			t.Fatalf("Decode(%s) error: %v", name, err)
		}
		want[name] = out
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 20; i++ {
				for name, src := range frames {
					out, err := Decode(src, 1<<20)
					if err != nil || !bytes.Equal(out, want[name]) {
						errs <- fmt.Errorf("Decode(%s) = %d bytes, %v; want %d bytes", name, len(out),
							err, len(want[name]))
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
