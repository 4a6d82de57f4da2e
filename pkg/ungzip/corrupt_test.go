package ungzip

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/kmodboot/kmodboot/internal/dectest"
)

// fixtures returns the committed testdata/*.gz files (made by testdata/gen.sh) by name.
func fixtures(tb testing.TB) map[string][]byte { return dectest.Fixtures(tb, ".gz") }

// TestFixtures decodes the committed fixtures and compares with the sizes and hashes that
// gzip -dc gave for them (testdata/fixtures.txt) and with compress/gzip.
func TestFixtures(t *testing.T) {
	f, err := os.Open("testdata/fixtures.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); !strings.HasPrefix(line, "#") {
			name, rest, _ := strings.Cut(line, " ")
			want[name] = rest
		}
	}
	fx := fixtures(t)
	if len(fx) != len(want) {
		t.Errorf("%d fixtures, fixtures.txt lists %d", len(fx), len(want))
	}
	for name, src := range fx {
		t.Run(name, func(t *testing.T) {
			got, err := Decode(src, 1<<20)
			if err != nil {
				t.Fatalf("Decode(%s) error: %v", name, err)
			}
			if g := fmt.Sprintf("%d %x", len(got), sha256.Sum256(got)); g != want[name] {
				t.Errorf("Decode(%s) = size and sha256 %s, want %s", name, g, want[name])
			}
			ref, err := goGunzip(src, 1<<20)
			if err != nil || !bytes.Equal(got, ref) {
				t.Errorf("Decode(%s) differs from compress/gzip (error %v)", name, err)
			}
		})
	}
}

// checkErr fails unless err wraps one of the sentinels and got is nil.
func checkErr(t *testing.T, what string, got []byte, err error) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) &&
		!errors.Is(err, ErrTooLarge) {
		t.Fatalf("Decode(%s) = %v, want an error wrapping a sentinel", what, err)
	}
	if got != nil {
		t.Fatalf("Decode(%s) returned %d bytes with error %v", what, len(got), err)
	}
}

// TestTruncated decodes every proper prefix of the single-member fixtures: each must fail
// with ErrCorrupt.
func TestTruncated(t *testing.T) {
	for name, src := range fixtures(t) {
		if name == "concat" {
			continue // a prefix ending between members is valid
		}
		t.Run(name, func(t *testing.T) {
			for n := range len(src) {
				got, err := Decode(src[:n], 1<<20)
				if !errors.Is(err, ErrCorrupt) || got != nil {
					t.Fatalf("Decode(%s[:%d]) = %d bytes, %v; want ErrCorrupt", name, n, len(got),
						err)
				}
			}
		})
	}
}

// TestFlipped changes bytes of the fixtures in three ways (every byte of the small ones; of the
// larger ones, the header, the trailer and every 7th byte): Decode must never panic, and must
// fail with a sentinel unless compress/gzip accepts the result too (a changed MTIME, say), and
// then return the same bytes.
func TestFlipped(t *testing.T) {
	for name, src := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(src)
			accepted, tried := 0, 0
			for i := range b {
				if len(b) > 1000 && i >= 64 && i < len(b)-16 && i%7 != 0 {
					continue
				}
				tried += 3
				for _, x := range []byte{0x01, 0x80, 0xFF} {
					b[i] ^= x
					what := fmt.Sprintf("%s with byte %d ^ %#02x", name, i, x)
					got, err := Decode(b, 1<<20)
					ref, refErr := goGunzip(b, 1<<20)
					switch {
					case err != nil:
						checkErr(t, what, got, err)
						if refErr == nil && !errors.Is(err, errStrict) {
							t.Fatalf("Decode(%s) = %v, but compress/gzip decodes it", what, err)
						}
					case refErr != nil:
						t.Fatalf("Decode(%s) succeeds, compress/gzip fails with %v", what, refErr)
					case !bytes.Equal(got, ref):
						t.Fatalf("Decode(%s) differs from compress/gzip", what)
					default:
						accepted++
					}
					b[i] ^= x
				}
			}
			t.Logf("%d of %d changed inputs still decode, as compress/gzip agrees", accepted, tried)
		})
	}
}

// TestLimit checks that the output is capped: the exact size decodes, one byte less fails
// with ErrTooLarge, and so does a negative limit.
func TestLimit(t *testing.T) {
	for name, src := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			want, err := Decode(src, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := Decode(src, len(want)); err != nil || !bytes.Equal(got, want) {
				t.Errorf("Decode(%s, limit %d) = %d bytes, %v; want %d bytes", name, len(want),
					len(got), err, len(want))
			}
			for _, limit := range []int{len(want) - 1, len(want) / 2, 0, -1} {
				if limit < 0 && len(want) == 0 || limit >= len(want) {
					continue
				}
				if got, err := Decode(src, limit); !errors.Is(err, ErrTooLarge) || got != nil {
					t.Errorf("Decode(%s, limit %d) = %d bytes, %v; want ErrTooLarge", name, limit,
						len(got), err)
				}
			}
		})
	}
}

// TestAllocationBounded checks that neither a lying ISIZE nor a decompression bomb makes
// Decode allocate much more than the limit or what the input can hold.
func TestAllocationBounded(t *testing.T) {
	bomb := fixtures(t)["zeros300k"]
	lying := bytes.Clone(simple("tiny"))
	binary.LittleEndian.PutUint32(lying[len(lying)-4:], 0xFFFFFFF0)
	cases := []struct {
		name     string
		src      []byte
		limit    int
		err      error
		maxAlloc uint64
	}{
		{"bomb under a small limit", bomb, 1000, ErrTooLarge, 64 << 10},
		{"ISIZE of 4 GiB on a tiny member", lying, math.MaxInt, ErrCorrupt, 64 << 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			_, err := Decode(c.src, c.limit)
			runtime.ReadMemStats(&m1)
			if !errors.Is(err, c.err) {
				t.Fatalf("Decode(%s) = %v, want %v", c.name, err, c.err)
			}
			if a := m1.TotalAlloc - m0.TotalAlloc; a > c.maxAlloc {
				t.Errorf("Decode(%s) allocated %d bytes, want at most %d", c.name, a, c.maxAlloc)
			}
		})
	}
}

// TestConcurrent decodes the fixtures from several goroutines at once (pooled decoders, the
// shared fixed and CRC tables); run it with -race.
func TestConcurrent(t *testing.T) {
	fx := fixtures(t)
	want := map[string][]byte{}
	for name, src := range fx {
		out, err := Decode(src, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = out
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 20 {
				for name, src := range fx {
					got, err := Decode(src, 1<<20)
					if err != nil || !bytes.Equal(got, want[name]) {
						errs <- fmt.Errorf("goroutine %d, round %d: Decode(%s) = %d bytes, %v",
							g, i, name, len(got), err)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
