package unzstd

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/kmodboot/kmodboot/internal/dectest"
)

// fixtureFrames returns the committed testdata/*.zst files by name.
func fixtureFrames(tb testing.TB) map[string][]byte { return dectest.Fixtures(tb, ".zst") }

// fixtureFeatures are the format features that the committed fixtures must exercise: those
// that the real-module sample does not (or not reliably) show.
var fixtureFeatures = []string{
	"block/rle", "huff/direct", "seq/none", "lit/huffman1", "lit/huffman4", "lit/treeless1",
	"seq/literal lengths/predefined", "seq/offsets/predefined", "seq/match lengths/predefined",
	"seq/literal lengths/rle", "seq/match lengths/rle", "seq/literal lengths/repeat",
	"frame/skippable", "frame/checksum=false", "frame/fcs0", "frame/single=true",
}

// TestFixtures decodes the committed fixtures (made by testdata/gen.go with the zstd CLI) and
// compares with the sizes and hashes that `zstd -dc` gave for them and with klauspost.
func TestFixtures(t *testing.T) {
	f, err := os.Open("testdata/fixtures.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		want[name] = rest
	}
	frames := fixtureFrames(t)
	if len(frames) != len(want) {
		t.Errorf("%d fixtures, fixtures.txt lists %d", len(frames), len(want))
	}
	census := map[string]int{}
	for name, src := range frames {
		t.Run(name, func(t *testing.T) {
			got, err := decode(src, 1<<20, census)
			if err != nil {
				t.Fatalf("Decode(%s) error: %v", name, err)
			}
			if g := fmt.Sprintf("%d %x", len(got), sha256.Sum256(got)); g != want[name] {
				t.Errorf("Decode(%s) = size and sha256 %s, want %s", name, g, want[name])
			}
			k, err := klauspost().DecodeAll(src, nil)
			if err != nil || !bytes.Equal(got, k) {
				t.Errorf("Decode(%s) differs from klauspost (error %v)", name, err)
			}
		})
	}
	for _, k := range fixtureFeatures {
		if census[k] == 0 {
			t.Errorf("no fixture has feature %s; census %v", k, census)
		}
	}
}
