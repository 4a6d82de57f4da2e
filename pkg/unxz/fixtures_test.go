package unxz

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata/ with the xz command")

// fixture is a committed .xz file made by xz(1) from testdata/plain.txt.
type fixture struct {
	file string
	args []string // xz options; nil for the files made specially (see writeFixtures)
	want func(plain []byte) []byte
}

func same(plain []byte) []byte { return plain }

var fixtures = []fixture{
	{"preset-0.xz", []string{"-0"}, same},
	{"preset-6.xz", []string{"-6"}, same},
	{"preset-9e.xz", []string{"-9e"}, same},
	{"check-none.xz", []string{"--check=none"}, same},
	{"check-crc32.xz", []string{"--check=crc32"}, same},
	{"check-crc64.xz", []string{"--check=crc64"}, same},
	{"check-sha256.xz", []string{"--check=sha256"}, same},
	{"kbuild.xz", []string{"--check=crc32", "--lzma2=dict=1MiB"}, same},
	{"lc4-lp0.xz", []string{"--lzma2=lc=4,lp=0"}, same},
	{"lc0-lp4-pb0.xz", []string{"--lzma2=lc=0,lp=4,pb=0"}, same},
	// Threaded mode writes the compressed and uncompressed sizes into each block header.
	{"blocks.xz", []string{"-T2", "--block-size=600"}, same},
	{"concat.xz", nil, same},
	{"empty.xz", nil, func([]byte) []byte { return nil }},
	{"zeros.xz", nil, func([]byte) []byte { return make([]byte, zerosSize) }},
}

// zerosSize is the size of zeros.xz's content: more than one 2 MiB LZMA2 chunk, so that the file
// has chunks that continue the LZMA state (control 0x80).
const zerosSize = 5 << 20

// Raw LZMA2 pieces of plain.txt for hand-built chunk sequences (chunkPieces), and LZMA data
// that ends with an end-of-payload marker.
var rawPieces = []struct {
	file     string
	from, to int
	props    string
}{
	{"raw-a.lzma2", 0, 700, "lc=0,lp=0,pb=0"},
	{"raw-b.lzma2", 700, 1400, "lc=0,lp=0,pb=0"},
	{"raw-c.lzma2", 1400, 2048, "lc=0,lp=2,pb=2"},
}

// sampleText returns n bytes of deterministic English-like text: words from a small vocabulary,
// so that the compressed form has literals, matches and repeated distances.
func sampleText(n int) []byte {
	words := strings.Fields("module kernel driver device alias firmware load parameter " +
		"the of and to in is for on with as by at from this that which dependency softdep " +
		"init exit license author description version vermagic srcversion intree retpoline")
	r := rand.New(rand.NewPCG(1, 2))
	var b []byte
	for len(b) < n {
		b = append(b, words[r.IntN(len(words))]...)
		switch r.IntN(12) {
		case 0:
			b = append(b, ".\n"...)
		case 1:
			b = append(b, ", "...)
		default:
			b = append(b, ' ')
		}
	}
	return b[:n]
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("%v (regenerate with go test -run TestFixtures -update)", err)
	}
	return b
}

func xzCmd(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("xz", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// writeFixtures regenerates testdata/ with xz(1).
func writeFixtures(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Fatalf("-update needs the xz command: %v", err)
	}
	plain := sampleText(2048)
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	write("plain.txt", plain)
	for _, f := range fixtures {
		if f.args != nil {
			write(f.file, xzCmd(t, plain, append([]string{"-c"}, f.args...)...))
		}
	}
	// Two streams, each followed by stream padding.
	var concat []byte
	concat = append(concat, xzCmd(t, plain[:1024], "-c", "-6")...)
	concat = append(concat, 0, 0, 0, 0)
	concat = append(concat, xzCmd(t, plain[1024:], "-c", "--check=crc32")...)
	concat = append(concat, 0, 0, 0, 0, 0, 0, 0, 0)
	write("concat.xz", concat)
	write("empty.xz", xzCmd(t, nil, "-c"))
	write("zeros.xz", xzCmd(t, make([]byte, zerosSize), "-c"))
	for _, p := range rawPieces {
		write(p.file, xzCmd(t, plain[p.from:p.to], "-c", "--format=raw", "--lzma2=preset=6,"+p.props))
	}
	write("eopm.lzma", xzCmd(t, plain[:500], "-c", "--format=lzma"))
}

// TestFixtures decodes every committed fixture and compares it with what xz(1) compressed.
func TestFixtures(t *testing.T) {
	if *update {
		writeFixtures(t)
	}
	plain := readTestdata(t, "plain.txt")
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			src := readTestdata(t, f.file)
			got, err := Decode(src, 1<<30)
			if err != nil {
				t.Fatalf("Decode(%s) = %v, want nil error", f.file, err)
			}
			if want := f.want(plain); !bytes.Equal(got, want) {
				t.Fatalf("Decode(%s) = %d bytes, want %d bytes (%s)", f.file, len(got), len(want),
					firstDiff(got, want))
			}
		})
	}
}

// firstDiff describes where two byte slices first differ.
func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at byte %d", i)
		}
	}
	if len(a) != len(b) {
		return "one is a prefix of the other"
	}
	return "equal"
}
