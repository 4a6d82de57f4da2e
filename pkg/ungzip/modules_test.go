package ungzip

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kmodboot/kmodboot/internal/dectest"
)

// The real-module tests compress a sample of the plain .ko files of a Debian 6.1 kernel (from
// scripts/fetch-kernel.sh 6.1) with gzip(1) in several ways, once, into
// ${KMODBOOT_CACHE:-~/.cache/kmodboot}/ungzip-<release>/<variant>/, and check that Decode
// returns exactly the original module, exactly what compress/gzip returns, and exactly what
// gzip -dc prints.

// variant is one way of compressing the sample.
type variant struct {
	name  string
	tool  string // gzip or pigz
	flags []string
	every int // compress every every-th module of the sorted list
	group int // when > 1, compress this many modules into one file of as many members
}

var variants = []variant{
	{name: "l1", tool: "gzip", flags: []string{"-1"}, every: 4},
	{name: "l6", tool: "gzip", flags: []string{"-6"}, every: 4},
	{name: "l9", tool: "gzip", flags: []string{"-9"}, every: 8},
	{name: "noname", tool: "gzip", flags: []string{"-6", "--no-name"}, every: 16},
	{name: "members", tool: "gzip", flags: []string{"-6"}, every: 16, group: 5},
	{name: "pigz", tool: "pigz", flags: []string{"-6"}, every: 8},
	{name: "pigz11", tool: "pigz", flags: []string{"-11"}, every: 40},
}

// sampleFile is one compressed file of a variant and the modules it holds, in order.
type sampleFile struct {
	name    string // relative to the variant's directory
	modules []string
}

// compressedSample returns the variant's files and their directory, compressing the sample
// first if the cache lacks it. It skips when the variant's tool is not installed.
func compressedSample(tb testing.TB, v variant, modDir, release, cache string) (string,
	[]sampleFile) {
	tb.Helper()
	mods := dectest.ModuleFiles(tb, modDir, ".ko", 1000)
	var files []sampleFile
	group := max(v.group, 1)
	for i := 0; i < len(mods); i += v.every * group {
		f := sampleFile{name: mods[i] + ".gz"}
		for j := 0; j < group && i+j*v.every < len(mods); j++ {
			f.modules = append(f.modules, mods[i+j*v.every])
		}
		files = append(files, f)
	}
	dir := filepath.Join(cache, "ungzip-"+release, v.name)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, files
	}
	if _, err := exec.LookPath(v.tool); err != nil {
		tb.Skipf("%s is not installed: variant %s not tested", v.tool, v.name)
	}
	tb.Logf("compressing %d files with %s %s into %s (once)", len(files), v.tool,
		strings.Join(v.flags, " "), dir)
	if err := os.RemoveAll(dir); err != nil {
		tb.Fatal(err)
	}
	// One shell runs the tool per file: each input line is the output name and then the
	// modules (gzip -c of several files writes one member for each).
	var list strings.Builder
	for _, f := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f.name)), 0o755); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&list, "%s %s\n", f.name, strings.Join(f.modules, " "))
	}
	script := `cd "$1" && out=$2 && tool=$3 && shift 3 && while read -r name mods; do
		$tool -c "$@" $mods >"$out/$name" || exit 1; done`
	args := append([]string{"-c", script, "sh", modDir, dir, v.tool}, v.flags...)
	cmd := exec.Command("sh", args...)
	cmd.Stdin = strings.NewReader(list.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v: %s", v.tool, strings.Join(v.flags, " "), err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir, files
}

// TestRealModules decodes every variant of the sample and compares with the original
// modules, compress/gzip and gzip -dc.
func TestRealModules(t *testing.T) {
	k := dectest.NeedKernel(t, "6.1")
	modDir, release, cache := k.ModDir, k.Release, k.Cache
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir, files := compressedSample(t, v, modDir, release, cache)
			ours := sha256.New()
			var total, ztotal int64
			var paths []string
			for _, f := range files {
				src, err := os.ReadFile(filepath.Join(dir, f.name))
				if err != nil {
					t.Fatal(err)
				}
				var orig []byte
				for _, m := range f.modules {
					b, err := os.ReadFile(filepath.Join(modDir, m))
					if err != nil {
						t.Fatal(err)
					}
					orig = append(orig, b...)
				}
				got, err := Decode(src, 1<<30)
				if err != nil {
					t.Fatalf("Decode(%s) error: %v", f.name, err)
				}
				if !bytes.Equal(got, orig) {
					t.Fatalf("Decode(%s) = %d bytes differing from the original %d bytes at %d",
						f.name, len(got), len(orig), firstDiff(got, orig))
				}
				want, err := goGunzip(src, 1<<30)
				if err != nil {
					t.Fatalf("compress/gzip(%s) error: %v", f.name, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("Decode(%s) differs from compress/gzip at byte %d", f.name,
						firstDiff(got, want))
				}
				if _, err := Decode(src, len(orig)-1); !errors.Is(err, ErrTooLarge) {
					t.Fatalf("Decode(%s, limit %d) error %v, want ErrTooLarge", f.name,
						len(orig)-1, err)
				}
				ours.Write(got)
				total += int64(len(got))
				ztotal += int64(len(src))
				paths = append(paths, f.name)
			}
			t.Logf("%d files, %d bytes compressed to %d", len(files), total, ztotal)
			if !haveGzip() {
				t.Log("gzip is not installed: not compared with gzip -dc")
				return
			}
			// gzip -dc of all files at once prints their concatenated contents.
			cmd := exec.Command("gzip", append([]string{"-dc", "--"}, paths...)...)
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
				t.Fatalf("gzip -dc: %v: %s", err, stderr.Bytes())
			}
			if n != total || !bytes.Equal(cli.Sum(nil), ours.Sum(nil)) {
				t.Fatalf("gzip -dc of %d files printed %d bytes (sha256 %x), Decode returned %d "+
					"(sha256 %x)", len(files), n, cli.Sum(nil), total, ours.Sum(nil))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
