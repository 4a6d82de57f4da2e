package unxz

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that no input panics or escapes the limit, that every error wraps a
// sentinel, and that whenever github.com/ulikunitz/xz decodes an input, Decode gives the same
// bytes.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.xz")
	for _, name := range seeds {
		if name == filepath.Join("testdata", "zeros.xz") {
			continue // 5 MiB of output: slow for every mutation, and over the limit anyway
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	plain, a, b, c := pieces(f)
	f.Add(oneBlock(checkCRC32, tblock{data: bytes.Join([][]byte{
		lzmaChunk(3, a.props, a.usize, a.data), uncompressedChunk(false, filler(16, 1)),
		lzmaChunk(1, 0, b.usize, b.data), uncompressedChunk(true, filler(32, 2)),
		lzmaChunk(2, c.props, c.usize, c.data), {0}}, nil),
		plain: bytes.Join([][]byte{plain[:700], filler(16, 1), plain[700:1400], filler(32, 2),
			plain[1400:]}, nil), csize: 0, usize: 0}))

	f.Fuzz(func(t *testing.T, src []byte) {
		const limit = 1 << 20
		got, err := Decode(src, limit)
		if err != nil && badErr(err) {
			t.Fatalf("Decode = %v, want an error wrapping ErrCorrupt, ErrUnsupported or ErrTooLarge", err)
		}
		if len(got) > limit {
			t.Fatalf("Decode = %d bytes, over the limit %d", len(got), limit)
		}
		want, oerr := oracle(src, limit)
		if oerr == nil && len(want) > limit {
			oerr = fmt.Errorf("over the limit")
		}
		switch {
		case err == nil && oerr == nil:
			if !bytes.Equal(got, want) {
				t.Fatalf("Decode = %d bytes, ulikunitz/xz gives %d (%s)", len(got), len(want),
					firstDiff(got, want))
			}
		case err != nil && oerr != nil:
		default:
			// The two disagree on validity. ulikunitz/xz is lenient in places (it accepts a
			// stream header alone, for one), so xz(1) decides; without xz, the case is skipped.
			ref, xerr := xzTiebreak(t, src)
			if xerr != nil {
				if err == nil {
					t.Fatalf("Decode = %d bytes, nil error; ulikunitz/xz fails (%v) and xz -dc "+
						"fails (%v)", len(got), oerr, xerr)
				}
				return
			}
			if err != nil && len(ref) <= limit {
				t.Fatalf("Decode = %v; ulikunitz/xz and xz -dc decode the input (%d bytes)", err,
					len(ref))
			}
			if err == nil && !bytes.Equal(got, ref) {
				t.Fatalf("Decode = %d bytes, xz -dc gives %d (%s)", len(got), len(ref),
					firstDiff(got, ref))
			}
		}
	})
}

// oracle is ulikunitzDecode, turning a panic of the oracle into an error.
func oracle(src []byte, limit int) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ulikunitz/xz panics: %v", r)
		}
	}()
	return ulikunitzDecode(src, limit)
}

// xzTiebreak runs xz -dc on src; it skips the test when xz is not installed.
func xzTiebreak(t *testing.T, src []byte) ([]byte, error) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("ulikunitz/xz and Decode disagree; no xz command to decide")
	}
	cmd := exec.Command("xz", "-dc")
	cmd.Stdin = bytes.NewReader(src)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}
