package unzstd

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/kmodboot/kmodboot/internal/dectest"
)

// The real-module tests compress a sample of the plain .ko files of a Debian 6.1 kernel (from
// scripts/fetch-kernel.sh 6.1) with the zstd CLI in several ways, once, into
// ${KMODBOOT_CACHE:-~/.cache/kmodboot}/unzstd-<release>/<variant>/, and check that Decode
// returns exactly the original module, exactly what klauspost/compress/zstd returns, and
// exactly what `zstd -dc` prints.

// variant is one way of compressing the sample.
type variant struct {
	name  string
	flags []string
	every int // compress every every-th module of the sorted list
}

var variants = []variant{
	{"l1", []string{"-1"}, 8},
	{"l3", []string{"-3"}, 8},
	{"l19", []string{"-19"}, 40},
	{"ultra22", []string{"--ultra", "-22"}, 80},
	{"long27", []string{"-19", "--long=27"}, 80},
	{"nocheck", []string{"-3", "--no-check"}, 40},
	{"nocontentsize", []string{"-3", "--no-content-size"}, 40},
	{"contentsize", []string{"-19", "--content-size"}, 80},
	// Small blocks: many blocks per frame, so literals and sequence tables get repeated
	// (treeless literals, Repeat_Mode).
	{"blocks2k", []string{"-19", "--target-compressed-block-size=2048"}, 40},
	{"blocks1k3", []string{"-3", "--target-compressed-block-size=1024"}, 40},
	{"nolitcomp", []string{"-3", "--no-compress-literals"}, 80},
	{"fast", []string{"--fast=5"}, 40},
}

// realFeatures are the format features (as decode counts them) that the zstd CLI's output for
// real modules exercises; the rest are covered by handmade frames in decode_test.go.
var realFeatures = []string{
	"block/raw", "block/compressed",
	"frame/fcs0", "frame/fcs2", "frame/fcs4", "frame/single=true", "frame/single=false",
	"frame/checksum=true", "frame/checksum=false", "frame/did0",
	"lit/raw", "lit/huffman1", "lit/huffman4", "lit/treeless1", "lit/treeless4", "huff/fse",
	"seq/literal lengths/fse", "seq/literal lengths/repeat",
	"seq/offsets/rle", "seq/offsets/fse", "seq/offsets/repeat",
	"seq/match lengths/predefined", "seq/match lengths/fse", "seq/match lengths/repeat",
	"seq/offset rep1-1",
}

// compressedSample returns the variant's .ko.zst files (paths relative to the returned
// directory, which mirrors modDir), compressing them first if the cache lacks them.
func compressedSample(tb testing.TB, v variant, modDir, release, cache string) (string, []string) {
	tb.Helper()
	mods := dectest.ModuleFiles(tb, modDir, ".ko", 1000)
	var sample []string
	for i := 0; i < len(mods); i += v.every {
		sample = append(sample, mods[i])
	}
	dir := filepath.Join(cache, "unzstd-"+release, v.name)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		if _, err := exec.LookPath("zstd"); err != nil {
			tb.Skip("the zstd CLI is not installed (apt-get install zstd)")
		}
		tb.Logf("compressing %d modules with zstd %s into %s (once)", len(sample),
			strings.Join(v.flags, " "), dir)
		if err := os.RemoveAll(dir); err != nil {
			tb.Fatal(err)
		}
		for _, m := range sample {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(m)), 0o755); err != nil {
				tb.Fatal(err)
			}
		}
		// One zstd process per variant: -c of several files concatenates frames, so write
		// each file with its own -o instead, in a shell loop that is cheap next to zstd.
		list := filepath.Join(dir, ".list")
		var sb strings.Builder
		for _, m := range sample {
			fmt.Fprintf(&sb, "%s\n", m)
		}
		if err := os.WriteFile(list, []byte(sb.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		script := `cd "$1" && shift && out=$1 && shift && while read -r m; do
			zstd -q -f "$@" -o "$out/$m.zst" "$m" || exit 1; done`
		args := append([]string{"-c", script, "sh", modDir, dir}, v.flags...)
		cmd := exec.Command("sh", args...)
		cmd.Stdin = strings.NewReader(sb.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("zstd %s: %v: %s", strings.Join(v.flags, " "), err, out)
		}
		if err := os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	var files []string
	for _, m := range sample {
		files = append(files, m+".zst")
	}
	return dir, files
}

var (
	oracleOnce sync.Once
	oracle     *zstd.Decoder
)

// klauspost returns the oracle decoder: klauspost/compress/zstd with a window limit high
// enough for every frame the zstd CLI writes.
func klauspost() *zstd.Decoder {
	oracleOnce.Do(func() {
		var err error
		oracle, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(1<<31), zstd.WithDecoderMaxMemory(1<<31))
		if err != nil {
			panic(err)
		}
	})
	return oracle
}

// TestRealModules decodes every variant of the sample and compares with the original module,
// klauspost/compress/zstd and `zstd -dc`.
func TestRealModules(t *testing.T) {
	k := dectest.NeedKernel(t, "6.1")
	modDir, release, cache := k.ModDir, k.Release, k.Cache
	census := map[string]int{}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		keys := slices.Sorted(maps.Keys(census))
		var sb strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&sb, "\n\t%-32s %d", k, census[k])
		}
		t.Logf("format features met:%s", sb.String())
		// The sample must exercise everything real encoders write, or the test proves less
		// than it claims.
		for _, k := range realFeatures {
			if census[k] == 0 {
				t.Errorf("no module of the sample has feature %s", k)
			}
		}
	})
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir, files := compressedSample(t, v, modDir, release, cache)
			ours := sha256.New()
			var total, ztotal int64
			for _, f := range files {
				src, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				orig, err := os.ReadFile(filepath.Join(modDir, strings.TrimSuffix(f, ".zst")))
				if err != nil {
					t.Fatal(err)
				}
				got, err := decode(src, 1<<30, census)
				if err != nil {
					t.Fatalf("Decode(%s) error: %v", f, err)
				}
				if !bytes.Equal(got, orig) {
					t.Fatalf("Decode(%s) = %d bytes differing from the original %d bytes at %d",
						f, len(got), len(orig), firstDiff(got, orig))
				}
				want, err := klauspost().DecodeAll(src, nil)
				if err != nil {
					t.Fatalf("klauspost DecodeAll(%s) error: %v", f, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("Decode(%s) differs from klauspost at byte %d", f, firstDiff(got, want))
				}
				// The limit: exactly the size works, one byte less fails.
				if _, err := Decode(src, len(orig)-1); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("Decode(%s, limit %d) error %v, want ErrTooLarge", f, len(orig)-1, err)
				}
				ours.Write(got)
				total += int64(len(got))
				ztotal += int64(len(src))
			}
			t.Logf("%d modules, %d bytes compressed to %d", len(files), total, ztotal)
			if _, err := exec.LookPath("zstd"); err != nil {
				t.Log("the zstd CLI is not installed (apt-get install zstd): not compared with it")
				return
			}
			// zstd -dc of all files at once prints their concatenated contents.
			cmd := exec.Command("zstd", append([]string{"-dcq", "--long=31"}, files...)...)
			cmd.Dir = dir
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cli := sha256.New()
			n, _ := io.Copy(cli, stdout)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("zstd -dc: %v: %s", err, stderr.Bytes())
			}
			if n != total || !bytes.Equal(cli.Sum(nil), ours.Sum(nil)) {
				t.Fatalf("zstd -dc of %d files printed %d bytes (sha256 %x), Decode returned %d "+
					"(sha256 %x)", len(files), n, cli.Sum(nil), total, ours.Sum(nil))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
