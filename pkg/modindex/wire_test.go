package modindex

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// FuzzWire holds the package's wire reader to protowire's answers.
func FuzzWire(f *testing.F) {
	f.Add([]byte{0x08, 0x01})
	f.Add([]byte{0x12, 0x03, 'a', 'b', 'c'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})
	f.Add([]byte{0x0d, 1, 2, 3})
	f.Add([]byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n := consumeVarint(b)
		pv, pn := protowire.ConsumeVarint(b)
		if (n < 0) != (pn < 0) || (n >= 0 && (v != pv || n != pn)) {
			t.Fatalf("consumeVarint(%x) = %d, %d; protowire says %d, %d", b, v, n, pv, pn)
		}
		num, typ, n := consumeTag(b)
		pnum, ptyp, pn := protowire.ConsumeTag(b)
		if (n < 0) != (pn < 0) || (n >= 0 && (int32(pnum) != num || int8(ptyp) != int8(typ) || n != pn)) {
			t.Fatalf("consumeTag(%x) = %d, %d, %d; protowire says %d, %d, %d", b, num, typ, n, pnum, ptyp, pn)
		}
		bv, n := consumeBytes(b)
		pbv, pn := protowire.ConsumeBytes(b)
		if (n < 0) != (pn < 0) || (n >= 0 && (string(bv) != string(pbv) || n != pn)) {
			t.Fatalf("consumeBytes(%x) = %q, %d; protowire says %q, %d", b, bv, n, pbv, pn)
		}
		if len(b) > 0 {
			typ := wireType(b[0] % 8)
			if typ == 3 || typ == 4 {
				if skipValue(typ, b[1:]) >= 0 {
					t.Fatalf("skipValue(group) accepted %x", b)
				}
				return
			}
			n, pn := skipValue(typ, b[1:]), protowire.ConsumeFieldValue(1, protowire.Type(typ), b[1:])
			if (n < 0) != (pn < 0) || (n >= 0 && n != pn) {
				t.Fatalf("skipValue(%d, %x) = %d; protowire says %d", typ, b[1:], n, pn)
			}
		}
	})
}
