package unzstd

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic, every error must wrap one
// of the sentinels, and whenever klauspost/compress/zstd accepts the input Decode must return
// the same bytes, except where Decode is deliberately stricter (errStrict: see doc.go) or the
// output passes the fuzz limit. Seeds: the fixtures in testdata and handmade frames.
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 2m -parallel 1 ./pkg/unzstd/
func FuzzDecode(f *testing.F) {
	for _, src := range fixtureFrames(f) {
		f.Add(src)
	}
	hist := counting(100)
	f.Add(frame(hdr{fcs: -1, checksum: true}, []byte("abc"), rawBlock([]byte("abc"))))
	f.Add(frame(hdr{fcs: 300, single: true}, nil, rleBlock('x', 300)))
	f.Add(frame(hdr{fcs: -1}, nil, compBlock(append(rleLits('y', 20), 0))))
	f.Add(frame(hdr{fcs: -1}, nil, rawBlock(hist),
		seqBlock(rawLits([]byte("abcd")), rleSeqs(4, 5, 10, false, []seq{{0, 0, 3}})),
		seqBlock(rawLits(nil), rleSeqs(0, 1, 35, false, []seq{{0, 0, 0}, {0, 1, 1}})),
		seqBlock(rawLits(nil), rleSeqs(0, 1, 35, true, []seq{{0, 1, 0}}))))
	f.Add(skippable(0x184D2A50, []byte("skip")))

	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, src []byte) {
		got, err := Decode(src, limit)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) &&
				!errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decode error %v wraps no sentinel", err)
			}
			if got != nil {
				t.Fatalf("Decode returned %d bytes with error %v", len(got), err)
			}
		}
		if len(got) > limit {
			t.Fatalf("Decode returned %d bytes, over the limit %d", len(got), limit)
		}
		want, kerr := klauspost().DecodeAll(src, nil)
		if kerr != nil || len(src) == 0 {
			return // klauspost also accepts empty input; Decode calls it corrupt
		}
		switch {
		case errors.Is(err, errStrict), errors.Is(err, ErrTooLarge) && len(want) > limit:
		case err != nil:
			t.Fatalf("Decode error %v, but klauspost decodes %d bytes", err, len(want))
		case !bytes.Equal(got, want):
			t.Fatalf("Decode = %d bytes, klauspost %d; first difference at %d", len(got),
				len(want), firstDiff(got, want))
		}
	})
}
