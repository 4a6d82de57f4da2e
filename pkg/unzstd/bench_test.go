package unzstd

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDecode decodes the cached sample of real modules (see TestRealModules) compressed
// with zstd -19 and -3, with Decode and with klauspost/compress/zstd's DecodeAll (its
// assembly included, as modinfo used it). MB/s counts decompressed bytes.
//
//	go test -run '^$' -bench Decode -benchtime 2s ./pkg/unzstd/
func BenchmarkDecode(b *testing.B) {
	modDir, release, cache := kernel61(b)
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
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				for _, src := range srcs {
					if _, err := Decode(src, 1<<30); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(name+"/klauspost", func(b *testing.B) {
			dec := klauspost()
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				for _, src := range srcs {
					if _, err := dec.DecodeAll(src, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
