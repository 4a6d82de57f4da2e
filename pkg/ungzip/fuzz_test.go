package ungzip

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic, every error must wrap one
// of the sentinels, and whenever compress/gzip accepts the input Decode must return the same
// bytes, except where Decode is deliberately stricter (errStrict: reserved header flags) or
// the output passes the fuzz limit. Seeds: the fixtures in testdata and the handmade members
// of TestDecode.
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 2m -fuzzminimizetime 2s -parallel 1 ./pkg/ungzip/
func FuzzDecode(f *testing.F) {
	for _, src := range fixtures(f) {
		if len(src) < 5000 {
			f.Add(src)
		}
	}
	for _, c := range decodeCases() {
		if len(c.src) < 5000 {
			f.Add(c.src)
		}
	}
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, src []byte) {
		got, err := Decode(src, limit)
		if err != nil {
			checkErr(t, "fuzz input", got, err)
		}
		if len(got) > limit {
			t.Fatalf("Decode returned %d bytes, over the limit %d", len(got), limit)
		}
		want, gerr := goGunzip(src, limit)
		if gerr != nil {
			return
		}
		switch {
		case errors.Is(err, errStrict), errors.Is(err, ErrTooLarge) && len(want) > limit:
		case err != nil:
			t.Fatalf("Decode error %v, but compress/gzip decodes %d bytes", err, len(want))
		case !bytes.Equal(got, want):
			t.Fatalf("Decode = %d bytes, compress/gzip %d; first difference at %d", len(got),
				len(want), firstDiff(got, want))
		}
	})
}

// FuzzInflate is FuzzDecode for raw DEFLATE data, without the gzip framing and its CRC-32 that
// make most mutations of FuzzDecode's inputs fail before a difference in decoding shows:
// whenever compress/flate decodes the input, the inflater must return the same bytes.
//
//	go test -run '^$' -fuzz FuzzInflate -fuzztime 2m -fuzzminimizetime 2s -parallel 1 ./pkg/ungzip/
func FuzzInflate(f *testing.F) {
	add := func(src []byte) {
		if len(src) < 5000 && len(src) > 18 && src[0] == 0x1F {
			if p, err := header(src, 0); err == nil {
				f.Add(src[p:])
			}
		}
	}
	for _, src := range fixtures(f) {
		add(src)
	}
	for _, c := range decodeCases() {
		add(c.src)
	}
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, src []byte) {
		got, err := inflateRaw(src, limit)
		if err != nil {
			checkErr(t, "fuzz input", got, err)
		}
		want, ferr := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(src)), limit+1))
		switch {
		case ferr != nil:
		case errors.Is(err, ErrTooLarge) && len(want) > limit:
		case err != nil:
			t.Fatalf("inflate error %v, but compress/flate decodes %d bytes", err, len(want))
		case !bytes.Equal(got, want):
			t.Fatalf("inflate = %d bytes, compress/flate %d; first difference at %d", len(got),
				len(want), firstDiff(got, want))
		}
	})
}

// inflateRaw decodes the raw DEFLATE stream src.
func inflateRaw(src []byte, limit int) ([]byte, error) {
	f := &inflater{src: src, limit: limit}
	if _, err := f.inflate(0); err != nil {
		return nil, err
	}
	return f.out[:f.n], nil
}
