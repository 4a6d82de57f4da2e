package main

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestKernelProfile: buckets add up by the function they fall in, the hottest offset of each is
// kept, the modules' bucket is its own line, and module symbols in kallsyms take no buckets.
func TestKernelProfile(t *testing.T) {
	kallsyms := "ffffffff81000000 T _stext\n" +
		"ffffffff81000010 T foo\n" +
		"ffffffff81000020 t bar\n" +
		"ffffffffc0001000 t modfn\t[mod]\n" +
		"garbage line\n"
	counts := make([]uint32, 1+16+1) // bucket size, 16 buckets of 4 bytes from _stext, modules
	counts[0] = 4
	counts[1+0x10/4] = 3 // foo+0x0
	counts[1+0x14/4] = 5 // foo+0x4
	counts[1+0x20/4] = 2 // bar+0x0
	counts[1+0x3c/4] = 1 // bar+0x1c
	counts[len(counts)-1] = 7
	b := make([]byte, 4*len(counts))
	for i, c := range counts {
		binary.LittleEndian.PutUint32(b[4*i:], c)
	}
	total, funcs := kernelProfile(b, kallsyms)
	if total != 18 {
		t.Errorf("total = %d, want 18", total)
	}
	want := []profFunc{
		{name: "foo", samples: 8, hotOffset: 4, hotSamples: 5},
		{name: "(modules)", samples: 7, hotOffset: 0, hotSamples: 7},
		{name: "bar", samples: 3, hotOffset: 0, hotSamples: 2},
	}
	if diff := cmp.Diff(want, funcs, cmp.AllowUnexported(profFunc{})); diff != "" {
		t.Errorf("kernelProfile (-want +got):\n%s", diff)
	}
	if total, funcs := kernelProfile([]byte{4, 0}, kallsyms); total != 0 || funcs != nil {
		t.Errorf("a truncated profile gave %d, %v; want nothing", total, funcs)
	}
}
