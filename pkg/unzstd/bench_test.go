package unzstd

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kmodboot/kmodboot/internal/dectest"
)

// BenchmarkDecode decodes the cached sample of real modules (see TestRealModules) compressed
// with zstd -19 and -3, with Decode and with klauspost/compress/zstd's DecodeAll (its
// assembly included, as modinfo used it). MB/s counts decompressed bytes; cpu-MB/s divides
// them by the benchmark thread's CPU time instead (Linux), which other processes on a busy
// machine disturb much less than wall time.
//
//	go test -run '^$' -bench Decode -benchtime 2s -count 5 ./pkg/unzstd/
func BenchmarkDecode(b *testing.B) {
	k := dectest.NeedKernel(b, "6.1")
	modDir, release, cache := k.ModDir, k.Release, k.Cache
	for _, name := range []string{"l19", "l3"} {
		var v variant
		for _, x := range variants {
			if x.name == name {
				v = x
			}
		}
		dir, files := compressedSample(b, v, modDir, release, cache)
		var srcs [][]byte
		var total int64
		for _, f := range files {
			src, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				b.Fatal(err)
			}
			out, err := Decode(src, 1<<30)
			if err != nil {
				b.Fatalf("Decode(%s): %v", f, err)
			}
			srcs = append(srcs, src)
			total += int64(len(out))
		}
		b.Run(name+"/unzstd", func(b *testing.B) {
			benchCPU(b, total, func() {
				for _, src := range srcs {
					if _, err := Decode(src, 1<<30); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		b.Run(name+"/klauspost", func(b *testing.B) {
			dec := klauspost()
			benchCPU(b, total, func() {
				for _, src := range srcs {
					if _, err := dec.DecodeAll(src, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// benchCPU runs op b.N times on one locked OS thread and reports the thread's CPU time as
// cpu-MB/s beside the usual wall-time figures.
func benchCPU(b *testing.B, bytes int64, op func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.SetBytes(bytes)
	b.ReportAllocs()
	c0, ok := dectest.ThreadCPU()
	n := 0
	for b.Loop() {
		op()
		n++
	}
	if c1, ok1 := dectest.ThreadCPU(); ok && ok1 && c1 > c0 {
		b.ReportMetric(float64(bytes)*float64(n)/(c1-c0).Seconds()/1e6, "cpu-MB/s")
	}
}
