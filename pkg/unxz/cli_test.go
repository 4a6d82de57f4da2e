package unxz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/kmodboot/kmodboot/internal/dectest"
)

// ulikunitzDecode decodes src with github.com/ulikunitz/xz, the oracle, reading at most limit+1
// bytes.
func ulikunitzDecode(src []byte, limit int) ([]byte, error) {
	r, err := xz.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(r, int64(limit)+1))
}

func needXZ(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("the xz command is not installed (apt-get install xz-utils)")
	}
}

// mixedInputs returns inputs that make xz(1) write every kind of LZMA2 chunk: incompressible
// stretches of 64 KiB and more become uncompressed chunks (with a dictionary reset when they
// come first), the LZMA chunks after them reset the state or set new properties, and long
// compressible stretches fill several chunks in a row.
func mixedInputs() map[string][]byte {
	r := rand.New(rand.NewPCG(3, 4))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	text := sampleText(400 << 10)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	return map[string][]byte{
		"text-random-text": cat(text[:100<<10], random(200<<10), text, random(70<<10), text[:1000]),
		"random-first":     cat(random(70<<10), text[:200<<10], random(70<<10)),
	}
}

// TestXZCommand compresses inputs with xz(1) and every option that changes what the decoder
// sees, and checks that Decode gives the input back.
func TestXZCommand(t *testing.T) {
	needXZ(t)
	inputs := mixedInputs()
	if k, err := dectest.CachedKernel("6.1"); err == nil && !testing.Short() {
		ko, err := os.ReadFile(filepath.Join(k.ModDir, "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko"))
		if err == nil {
			inputs["e1000e.ko"] = ko
		}
	}
	options := [][]string{
		{"-0"}, {"-6"}, {"-9e"},
		{"--check=none"}, {"--check=crc32"}, {"--check=crc64"}, {"--check=sha256"},
		{"--check=crc32", "--lzma2=dict=1MiB"}, // kbuild's options
		{"--lzma2=lc=4,lp=0"}, {"--lzma2=lc=0,lp=4,pb=0"}, {"--lzma2=preset=6,pb=0"},
		{"--block-size=100000"},                // several blocks
		{"-T2", "--block-size=100000"},         // several blocks with sizes in their headers
		{"--lzma2=dict=4KiB", "--check=crc32"}, // the smallest dictionary
	}
	if testing.Short() {
		options = options[1:2]
	}
	classes := map[string]bool{}
	names := make([]string, 0, len(inputs))
	for name := range inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		in := inputs[name]
		for _, opts := range options {
			label := name + " " + strings.Join(opts, " ")
			t.Run(label, func(t *testing.T) {
				src := xzCmd(t, in, append([]string{"-c"}, opts...)...)
				got, err := Decode(src, len(in))
				if err != nil {
					t.Fatalf("Decode(%s) = %v, want nil error", label, err)
				}
				if !bytes.Equal(got, in) {
					t.Fatalf("Decode(%s) = %d bytes, want %d (%s)", label, len(got), len(in),
						firstDiff(got, in))
				}
				for c := range controlClasses(controls(src)) {
					classes[c] = true
				}
			})
		}
	}
	for _, c := range allControlClasses {
		if !classes[c] {
			t.Errorf("no xz output had a chunk of kind %q: the inputs no longer cover it", c)
		}
	}

	t.Run("concatenated", func(t *testing.T) {
		a, b := inputs["random-first"], sampleText(5000)
		src := xzCmd(t, a, "-c", "--check=sha256")
		src = append(src, make([]byte, 8)...)
		src = append(src, xzCmd(t, nil, "-c")...)
		src = append(src, xzCmd(t, b, "-c", "-0")...)
		src = append(src, make([]byte, 4)...)
		want := append(append([]byte(nil), a...), b...)
		got, err := Decode(src, len(want))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Decode(concatenated) = %d bytes, %v; want %d bytes", len(got), err, len(want))
		}
		// xz -dc agrees that this is one valid file.
		if out := xzCmd(t, src, "-dc"); !bytes.Equal(out, want) {
			t.Fatalf("xz -dc (concatenated) = %d bytes, want %d", len(out), len(want))
		}
	})
	t.Run("empty", func(t *testing.T) {
		got, err := Decode(xzCmd(t, nil, "-c"), 0)
		if err != nil || len(got) != 0 {
			t.Fatalf("Decode(xz of nothing) = %d bytes, %v; want 0 bytes", len(got), err)
		}
	})
}

// TestModules decodes every .ko.xz of the cached 6.12 kernel and compares the result with
// github.com/ulikunitz/xz and with xz -dc (run on batches of files, whose output is the
// concatenation of theirs).
func TestModules(t *testing.T) {
	dir := dectest.NeedKernel(t, "6.12").ModDir
	files := dectest.ModuleFiles(t, dir, ".ko.xz", 1000)
	_, err := exec.LookPath("xz")
	haveXZ := err == nil
	if !haveXZ {
		t.Log("the xz command is not installed: comparing with ulikunitz/xz only")
	}
	const batch = 200
	var total int
	for i := 0; i < len(files); i += batch {
		group := files[i:min(i+batch, len(files))]
		type cliResult struct {
			out []byte
			err error
		}
		cli := make(chan cliResult, 1)
		if haveXZ {
			go func() {
				cmd := exec.Command("xz", append([]string{"-dc", "--"}, group...)...)
				cmd.Dir = dir // group holds paths relative to it
				out, err := cmd.Output()
				cli <- cliResult{out, err}
			}()
		}
		var outs [][]byte
		for _, rel := range group {
			src, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(src, 512<<20)
			if err != nil {
				t.Errorf("Decode(%s) = %v, want nil error", rel, err)
				outs = nil
				break
			}
			want, err := ulikunitzDecode(src, 512<<20)
			if err != nil {
				t.Errorf("ulikunitz/xz fails on %s: %v", rel, err)
			} else if !bytes.Equal(got, want) {
				t.Errorf("Decode(%s) = %d bytes, ulikunitz/xz gives %d (%s)", rel, len(got),
					len(want), firstDiff(got, want))
			}
			outs = append(outs, got)
			total += len(got)
		}
		if !haveXZ {
			continue
		}
		res := <-cli
		if res.err != nil {
			t.Fatalf("xz -dc on %d files from %s: %v", len(group), group[0], res.err)
		}
		if outs == nil {
			continue
		}
		off := 0
		for j, got := range outs {
			end := off + len(got)
			if end > len(res.out) || !bytes.Equal(res.out[off:end], got) {
				t.Fatalf("Decode(%s) differs from xz -dc", group[j])
			}
			off = end
		}
		if off != len(res.out) {
			t.Fatalf("xz -dc on %s... wrote %d bytes, Decode %d", group[0], len(res.out), off)
		}
	}
	t.Logf("%d modules, %d bytes decoded, identical to ulikunitz/xz and xz -dc", len(files), total)
}

// TestDictionarySize checks that match distances are bounded by the dictionary size of the
// filter properties: xz(1) compresses 8 KiB of noise twice over with a 16 KiB dictionary (so
// the second copy is one match at distance 8 KiB); declaring a 4 KiB dictionary instead must
// fail, as it does in xz -dc.
func TestDictionarySize(t *testing.T) {
	needXZ(t)
	noise := make([]byte, 8<<10)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	in := append(append([]byte(nil), noise...), noise...)
	src := xzCmd(t, in, "-c", "--check=crc32", "--lzma2=preset=6,dict=16KiB")
	if got, err := Decode(src, len(in)); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("Decode(16 KiB dictionary) = %d bytes, %v; want the input back", len(got), err)
	}
	// The block header starts at 12 with no size fields: size, flags, then 21 01 <dict byte>.
	if src[13] != 0 || src[14] != 0x21 || src[15] != 0x01 {
		t.Fatalf("unexpected block header % x", src[12:24])
	}
	small := append([]byte(nil), src...)
	small[16] = 0 // 4 KiB
	hsize := (int(small[12]) + 1) * 4
	binary.LittleEndian.PutUint32(small[12+hsize-4:], crc32.ChecksumIEEE(small[12:12+hsize-4]))
	_, err := Decode(small, len(in))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "exceeds the dictionary size") {
		t.Fatalf("Decode(4 KiB dictionary) = %v, want an error wrapping ErrCorrupt about the "+
			"dictionary size", err)
	}
	cmd := exec.Command("xz", "-dc")
	cmd.Stdin = bytes.NewReader(small)
	if err := cmd.Run(); err == nil {
		t.Errorf("xz -dc accepts the file with a 4 KiB dictionary; Decode refuses it")
	}
}
