package unxz

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kmodboot/kmodboot/internal/dectest"
)

// The benchmarks need the cached 6.12 kernel (scripts/fetch-kernel.sh 6.12). Run them with
//
//	go test -run XXX -bench . -benchtime 3x ./pkg/unxz
//
// and compare the MB/s (of uncompressed output) of the unxz and ulikunitz sub-benchmarks.

// decoders are the implementations the benchmarks compare.
var decoders = []struct {
	name   string
	decode func(src []byte, limit int) ([]byte, error)
}{
	{"unxz", Decode},
	{"ulikunitz", ulikunitzDecode},
}

// BenchmarkDecode decodes single real modules: a large one (ext4), a typical one (e1000e) and a
// small one (virtio_blk).
func BenchmarkDecode(b *testing.B) {
	dir := dectest.NeedKernel(b, "6.12").ModDir
	for _, rel := range []string{
		"kernel/fs/ext4/ext4.ko.xz",
		"kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz",
		"kernel/drivers/block/virtio_blk.ko.xz",
	} {
		src, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			b.Fatal(err)
		}
		want, err := Decode(src, 512<<20)
		if err != nil {
			b.Fatalf("Decode(%s) = %v", rel, err)
		}
		for _, d := range decoders {
			b.Run(filepath.Base(rel)+"/"+d.name, func(b *testing.B) {
				b.SetBytes(int64(len(want)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := d.decode(src, 512<<20); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkModules decodes every .ko.xz of the 6.12 kernel per iteration, in memory with each
// Go decoder, and with xz -dc on batches of files (output discarded; process starts included).
func BenchmarkModules(b *testing.B) {
	dir := dectest.NeedKernel(b, "6.12").ModDir
	files := dectest.ModuleFiles(b, dir, ".ko.xz", 1000)
	srcs := make([][]byte, len(files))
	var total int64
	for i, f := range files {
		src, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			b.Fatal(err)
		}
		out, err := Decode(src, 512<<20)
		if err != nil {
			b.Fatalf("Decode(%s) = %v", f, err)
		}
		srcs[i] = src
		total += int64(len(out))
	}
	for _, d := range decoders {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(total)
			for b.Loop() {
				for _, src := range srcs {
					if _, err := d.decode(src, 512<<20); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
	b.Run("xz-cli", func(b *testing.B) {
		if _, err := exec.LookPath("xz"); err != nil {
			b.Skip("the xz command is not installed")
		}
		b.SetBytes(total)
		for b.Loop() {
			for i := 0; i < len(files); i += 1000 {
				cmd := exec.Command("xz", append([]string{"-dc", "--"}, files[i:min(i+1000, len(files))]...)...)
				cmd.Dir, cmd.Stdout = dir, io.Discard
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
