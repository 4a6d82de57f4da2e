package ungzip

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestCRC32 compares crc32Update with hash/crc32 on every length up to 100 and a few longer
// inputs, whole and split in two.
func TestCRC32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 5000)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for _, n := range append([]int{1000, 4097, 5000}, func() []int {
		var l []int
		for i := range 101 {
			l = append(l, i)
		}
		return l
	}()...) {
		p := buf[:n]
		want := crc32.ChecksumIEEE(p)
		if got := crc32Update(0, p); got != want {
			t.Fatalf("crc32Update(%d bytes) = %#08x, want %#08x", n, got, want)
		}
		if got := crc32Update(crc32Update(0, p[:n/3]), p[n/3:]); got != want {
			t.Fatalf("crc32Update(%d bytes in two parts) = %#08x, want %#08x", n, got, want)
		}
	}
}

func BenchmarkCRC32(b *testing.B) {
	p := make([]byte, 100<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		crc32Update(0, p)
	}
}
