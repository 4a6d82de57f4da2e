package ungzip

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kmodboot/kmodboot/internal/dectest"
)

// BenchmarkDecode decodes the cached sample of real modules (see TestRealModules) compressed
// with gzip -6 and -9, with Decode and with compress/gzip (one reused Reader, into a reused
// buffer: its best case). MB/s counts decompressed bytes; cpu-MB/s divides them by the
// benchmark thread's CPU time instead (Linux), which other processes on a busy machine
// disturb much less than wall time.
//
//	go test -run '^$' -bench Decode -benchtime 2s -count 5 ./pkg/ungzip/
func BenchmarkDecode(b *testing.B) {
	k := dectest.NeedKernel(b, "6.1")
	modDir, release, cache := k.ModDir, k.Release, k.Cache
	for _, name := range []string{"l6", "l9"} {
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
			src, err := os.ReadFile(filepath.Join(dir, f.name))
			if err != nil {
				b.Fatal(err)
			}
			out, err := Decode(src, 1<<30)
			if err != nil {
				b.Fatalf("Decode(%s): %v", f.name, err)
			}
			srcs = append(srcs, src)
			total += int64(len(out))
		}
		b.Run(name+"/ungzip", func(b *testing.B) {
			benchCPU(b, total, func() {
				for _, src := range srcs {
					if _, err := Decode(src, 1<<30); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
		b.Run(name+"/compress-gzip", func(b *testing.B) {
			var r gzip.Reader
			var buf bytes.Buffer
			br := new(bytes.Reader)
			benchCPU(b, total, func() {
				for _, src := range srcs {
					br.Reset(src)
					if err := r.Reset(br); err != nil {
						b.Fatal(err)
					}
					buf.Reset()
					if _, err := buf.ReadFrom(&r); err != nil {
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
