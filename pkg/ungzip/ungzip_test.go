package ungzip

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// goGunzip decodes src with compress/gzip, the oracle, reading at most limit+1 bytes.
func goGunzip(src []byte, limit int) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, int64(limit)+1))
}

// gzipCLI runs gzip -dc on src and returns its output, or an error when it exits non-zero
// (gzip(1) exits 2 for warnings such as trailing garbage).
func gzipCLI(t testing.TB, src []byte) ([]byte, error) {
	t.Helper()
	cmd := exec.Command("gzip", "-dc")
	cmd.Stdin = bytes.NewReader(src)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.New(strings.TrimSpace(err.Error() + ": " + stderr.String()))
	}
	return out, nil
}

func haveGzip() bool {
	_, err := exec.LookPath("gzip")
	return err == nil
}

// A complete literal/length code: 'a', 'b' and end-of-block in 2 bits, length symbols 257 (3)
// and 265 (11-12) in 3; and a complete distance code for distances 1 and 2.
var (
	litLens  = withLens(266, map[int]uint8{'a': 2, 'b': 2, 256: 2, 257: 3, 265: 3})
	distLens = []uint8{1, 1}
	abToks   = append(lits("ab"), match(3, 2), match(11, 1))
	abOut    = "ababa" + strings.Repeat("a", 11)
)

func withLens(n int, m map[int]uint8) []uint8 {
	l := make([]uint8, n)
	for s, v := range m {
		l[s] = v
	}
	return l
}

// dyn returns a member holding one dynamic block with the code lengths lit and dist.
func dyn(lit, dist []uint8, toks []tok, content string) []byte {
	return member(hdr{}, new(bitWriter).dynamic(true, lit, dist, toks).bytes(), []byte(content))
}

// dynSyms returns a member with a dynamic block header sending the code length symbols syms
// with the code length code cl, and nothing after it.
func dynSyms(nlit, ndist int, cl []uint8, syms []clSym) []byte {
	return member(hdr{}, new(bitWriter).dynHeader(true, nlit, ndist, 19, cl, syms).bytes(), nil)
}

type decodeCase struct {
	name string
	src  []byte
	want string // when err is nil
	err  error
	// goRejects marks valid input that compress/gzip refuses.
	goRejects bool
	// cli, when set, says how gzip -dc differs; otherwise it must agree exactly.
	cli string
}

func decodeCases() []decodeCase {
	flit, fdist := fixedCodes()
	long := strings.Repeat("x", 32768)
	overlap := strings.Repeat("abc", 87) + strings.Repeat("c", 261)
	allFlags := hdr{flags: flagText | flagHCRC | flagExtra | flagName | flagComment,
		extra: []byte("AB\x02\x00hi"), name: "e1000e.ko", comment: "a comment\xe9"}
	return []decodeCase{
		// Valid members.
		{name: "stored empty", src: member(hdr{}, new(bitWriter).stored(true, nil).bytes(), nil)},
		{name: "stored", src: member(hdr{}, new(bitWriter).stored(false, []byte("hello ")).
			stored(false, nil).stored(true, []byte("world")).bytes(), []byte("hello world")),
			want: "hello world"},
		{name: "stored padding bits set", src: member(hdr{}, append(new(bitWriter).bits(1, 1).
			bits(0, 2).bits(0x1F, 5).bytes(), 2, 0, 0xFD, 0xFF, 'o', 'k'), []byte("ok")),
			want: "ok"},
		{name: "fixed empty", src: simple(""), want: ""},
		{name: "fixed literals", src: simple("Hello, gzip!"), want: "Hello, gzip!"},
		{name: "fixed overlapping matches", src: member(hdr{}, new(bitWriter).fixed(true,
			append(lits("abc"), match(258, 3), match(258, 1), match(3, 1))).bytes(),
			[]byte(overlap)), want: overlap},
		{name: "distance 32768", src: member(hdr{}, new(bitWriter).stored(false, []byte(long)).
			fixed(true, []tok{match(258, 32768)}).bytes(), []byte(long+long[:258])),
			want: long + long[:258]},
		{name: "stored then fixed then dynamic", src: member(hdr{}, new(bitWriter).
			stored(false, []byte("s")).fixed(false, lits("f")).
			dynamic(true, litLens, distLens, abToks).bytes(), []byte("sf"+abOut)),
			want: "sf" + abOut},
		{name: "dynamic", src: dyn(litLens, distLens, abToks, abOut), want: abOut},
		{name: "dynamic repeat codes", src: member(hdr{}, new(bitWriter).
			dynHeader(true, 267, 2, 19, clLens, []clSym{
				{18, 'a' - 11}, {2, 0}, {2, 0}, {4, 0}, {16, 0}, // 'a' 'b' in 2 bits, 'c'-'f' in 4
				{18, 127}, {18, 15 - 11}, {3, 0}, {17, 5}, {4, 0}, {4, 0}, {1, 0}, {1, 0},
			}).symbols(canonical(withLens(267, map[int]uint8{'a': 2, 'b': 2, 'c': 4, 'd': 4,
			'e': 4, 'f': 4, 256: 3, 265: 4, 266: 4})), canonical([]uint8{1, 1}),
			append(lits("cab"), match(12, 2), match(13, 1))).bytes(),
			[]byte("cab"+strings.Repeat("ab", 6)+strings.Repeat("b", 13))),
			want: "cab" + strings.Repeat("ab", 6) + strings.Repeat("b", 13)},
		{name: "dynamic single literal/length code", src: dyn(withLens(257,
			map[int]uint8{256: 1}), []uint8{0}, nil, ""), want: ""},
		{name: "dynamic no distance code", src: dyn(litLens, []uint8{0}, lits("abba"), "abba"),
			want: "abba"},
		{name: "dynamic single distance code", src: dyn(litLens, []uint8{1},
			append(lits("a"), match(3, 1)), "aaaa"), want: "aaaa"},
		{name: "all header flags", src: member(allFlags, new(bitWriter).fixed(true,
			lits("flags")).bytes(), []byte("flags")), want: "flags"},
		{name: "empty extra field", src: member(hdr{flags: flagExtra | flagHCRC},
			new(bitWriter).fixed(true, lits("x")).bytes(), []byte("x")), want: "x"},
		{name: "file name longer than compress/gzip reads", src: member(hdr{flags: flagName,
			name: strings.Repeat("n", 600)}, new(bitWriter).fixed(true, lits("x")).bytes(),
			[]byte("x")), want: "x", goRejects: true},
		{name: "two members", src: cat(simple("one "), simple("two")), want: "one two"},
		{name: "members with an empty one", src: cat(simple("a"), simple(""),
			member(hdr{flags: flagName, name: "b"}, new(bitWriter).stored(true, []byte("b")).
				bytes(), []byte("b"))), want: "ab"},
		{name: "trailing zeros", src: cat(simple("z"), make([]byte, 1000)), want: "z",
			goRejects: true},
		{name: "one trailing zero", src: cat(simple("z"), []byte{0}), want: "z", goRejects: true},

		// Header errors.
		{name: "empty input", src: nil, err: ErrCorrupt},
		{name: "bad magic", src: cat([]byte{0x1F, 0x8C}, simple("x")[2:]), err: ErrCorrupt},
		{name: "method 7", src: member(hdr{cm: 7}, nil, nil), err: ErrUnsupported},
		{name: "reserved flag", src: member(hdr{flags: 0x20}, new(bitWriter).fixed(true,
			lits("x")).bytes(), []byte("x")), err: errStrict},
		{name: "bad header CRC", src: member(hdr{flags: flagHCRC | flagName, name: "n",
			badHCRC: true}, new(bitWriter).fixed(true, nil).bytes(), nil), err: ErrCorrupt},
		{name: "truncated extra field", src: cat(simple("x")[:3], []byte{flagExtra, 0, 0, 0, 0,
			0, 3, 200, 0, 1, 2}), err: ErrCorrupt},
		{name: "unterminated name", src: cat(simple("x")[:3], []byte{flagName, 0, 0, 0, 0, 0,
			3, 'a', 'b'}), err: ErrCorrupt},

		// Trailer and member sequence errors.
		{name: "bad CRC-32", src: func() []byte {
			b := simple("crc")
			b[len(b)-8] ^= 1
			return b
		}(), err: ErrCorrupt},
		{name: "bad ISIZE", src: func() []byte {
			b := simple("size")
			b[len(b)-4]++
			return b
		}(), err: ErrCorrupt},
		{name: "truncated trailer", src: simple("t")[:len(simple("t"))-1], err: ErrCorrupt},
		{name: "trailing garbage", src: cat(simple("g"), []byte("garbage")), err: ErrCorrupt,
			cli: "gzip -dc prints the member and warns (exit 2)"},
		{name: "zeros then garbage", src: cat(simple("g"), []byte{0, 0, 1}), err: ErrCorrupt,
			cli: "gzip -dc prints the member and warns (exit 2)"},
		{name: "zeros then a member", src: cat(simple("g"), []byte{0, 0}, simple("h")),
			err: ErrCorrupt, cli: "gzip -dc prints the first member and warns (exit 2)"},
		{name: "lone 0x1f after a member", src: cat(simple("g"), []byte{0x1F}), err: ErrCorrupt},
		{name: "truncated second header", src: cat(simple("g"), []byte{0x1F, 0x8B, 8}),
			err: ErrCorrupt},

		// DEFLATE errors.
		{name: "block type 3", src: member(hdr{}, new(bitWriter).bits(7, 3).bytes(), nil),
			err: ErrCorrupt},
		{name: "stored length complement", src: member(hdr{}, append(new(bitWriter).bits(1, 3).
			bytes(), 2, 0, 0xFD, 0xFE, 'o', 'k'), []byte("ok")), err: ErrCorrupt},
		{name: "stored truncated", src: cat(simple("x")[:10], new(bitWriter).
			stored(true, []byte("0123456789")).bytes()[:10]), err: ErrCorrupt},
		{name: "no final block", src: cat(simple("x")[:10], new(bitWriter).stored(false, nil).
			bytes()), err: ErrCorrupt},
		{name: "fixed literal/length symbol 286", src: member(hdr{}, new(bitWriter).bits(3, 3).
			code(flit[286]).bytes(), nil), err: ErrCorrupt},
		{name: "fixed distance symbol 30", src: member(hdr{}, new(bitWriter).bits(3, 3).
			code(flit['a']).code(flit[257]).code(fdist[30]).code(flit[256]).bytes(),
			[]byte("aaaa")), err: ErrCorrupt},
		{name: "distance before the output", src: member(hdr{}, new(bitWriter).fixed(true,
			append(lits("a"), match(3, 2))).bytes(), []byte("aaaa")), err: ErrCorrupt},
		{name: "distance into the previous member", src: cat(simple("abc"), member(hdr{},
			new(bitWriter).fixed(true, []tok{match(3, 3)}).bytes(), []byte("abc"))),
			err: ErrCorrupt},
		{name: "distance 32768 one byte short", src: member(hdr{}, new(bitWriter).
			stored(false, []byte(long[1:])).fixed(true, []tok{match(258, 32768)}).bytes(), nil),
			err: ErrCorrupt},
		{name: "287 literal/length codes", src: dynSyms(287, 1, clLens, nil), err: ErrCorrupt},
		{name: "31 distance codes", src: dynSyms(257, 31, clLens, nil), err: ErrCorrupt},
		{name: "over-subscribed code length code", src: dynSyms(257, 1, []uint8{4, 4, 4, 4, 4,
			4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4}, nil), err: ErrCorrupt},
		{name: "incomplete code length code", src: dynSyms(257, 1, append(clLens[:18:18], 0),
			nil), err: ErrCorrupt},
		{name: "single-code code length code", src: dynSyms(257, 1, withLens(19,
			map[int]uint8{9: 1}), plainSyms(withLens(258, map[int]uint8{0: 9}))),
			err: ErrCorrupt},
		{name: "repeat with no previous length", src: dynSyms(257, 1, clLens,
			[]clSym{{16, 0}}), err: ErrCorrupt},
		{name: "repeat past the lengths", src: dynSyms(257, 1, clLens,
			[]clSym{{18, 127}, {18, 127}, {18, 0}}), err: ErrCorrupt},
		{name: "no end-of-block code", src: dyn(withLens(257, map[int]uint8{'a': 1, 'b': 1}),
			[]uint8{1, 1}, nil, ""), err: ErrCorrupt},
		{name: "over-subscribed literal/length code", src: dyn(withLens(257,
			map[int]uint8{'a': 1, 'b': 1, 256: 1}), []uint8{1, 1}, nil, ""), err: ErrCorrupt},
		{name: "incomplete literal/length code", src: dyn(withLens(257,
			map[int]uint8{'a': 2, 'b': 2, 256: 2}), []uint8{1, 1}, nil, ""), err: ErrCorrupt},
		{name: "incomplete distance code", src: dyn(litLens, []uint8{2, 2}, lits("a"), "a"),
			err: ErrCorrupt},
		{name: "over-subscribed distance code", src: dyn(litLens, []uint8{1, 1, 1}, lits("a"),
			"a"), err: ErrCorrupt},
		{name: "match with no distance code", src: dyn(litLens, []uint8{0},
			append(lits("a"), match(3, 1)), "aaaa"), err: ErrCorrupt},
		{name: "long code in a subtable", src: dyn(withLens(286, func() map[int]uint8 {
			// 'a' in 1 bit ... 256 in 14, 285 and 'z' in 15: codes longer than the
			// primary table.
			m := map[int]uint8{}
			syms := []int{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 256}
			for i, s := range syms {
				m[s] = uint8(i + 1)
			}
			m[285], m['z'] = 15, 15
			return m
		}()), []uint8{1, 1}, append(lits("zam"), match(258, 2)), "zam"+strings.Repeat("am",
			129)), want: "zam" + strings.Repeat("am", 129)},
	}
}

// TestDecode decodes handmade members and checks the result, the error's sentinel, and that
// compress/gzip and gzip -dc agree.
func TestDecode(t *testing.T) {
	cli := haveGzip()
	if !cli {
		t.Log("gzip is not installed: not comparing with gzip -dc")
	}
	for _, c := range decodeCases() {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.src, 1<<20)
			if c.err != nil {
				if !errors.Is(err, c.err) || got != nil {
					t.Fatalf("Decode(%s) = %q, %v; want an error wrapping %v", c.name, got, err,
						c.err)
				}
			} else if err != nil || string(got) != c.want {
				t.Fatalf("Decode(%s) = %q, %v; want %q", c.name, got, err, c.want)
			}
			t.Logf("Decode(%s): %v", c.name, err)

			ref, refErr := goGunzip(c.src, 1<<20)
			switch {
			case c.goRejects || errors.Is(err, errStrict):
				if refErr == nil && err == nil {
					t.Errorf("compress/gzip accepts %s, the test says it refuses it", c.name)
				}
			case err == nil && (refErr != nil || !bytes.Equal(ref, got)):
				t.Errorf("compress/gzip(%s) = %q, %v; Decode %q", c.name, ref, refErr, got)
			case err != nil && refErr == nil:
				t.Errorf("compress/gzip accepts %s (%q), Decode fails with %v", c.name, ref, err)
			}

			if !cli {
				return
			}
			out, cliErr := gzipCLI(t, c.src)
			switch {
			case c.cli != "":
				if cliErr == nil {
					t.Errorf("gzip -dc succeeds on %s, the test says: %s", c.name, c.cli)
				}
			case err == nil && (cliErr != nil || !bytes.Equal(out, got)):
				t.Errorf("gzip -dc(%s) = %q, %v; Decode %q", c.name, out, cliErr, got)
			case err != nil && cliErr == nil:
				t.Errorf("gzip -dc accepts %s (%q), Decode fails with %v", c.name, out, err)
			}
		})
	}
}
