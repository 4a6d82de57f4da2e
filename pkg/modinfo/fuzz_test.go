package modinfo

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the ELF walk. Parse must never panic, and the in-memory
// and ReadAt paths must agree. Seeds: the real modules in testdata, synthetic ELFs of all four
// class/byte-order combinations and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.ko")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	secs := []testSection{{name: ".modinfo", data: []byte(testModinfo)}}
	for _, is64 := range []bool{false, true} {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			f.Add(buildELF(is64, bo, secs))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, errA := Parse(data)
		b, errB := ParseReaderAt(bytes.NewReader(data), int64(len(data)))
		if (errA == nil) != (errB == nil) {
			t.Fatalf("Parse error %v but ParseReaderAt error %v", errA, errB)
		}
		if errA != nil {
			return
		}
		if diff := diffInfo(a, b); diff != "" {
			t.Fatalf("Parse and ParseReaderAt differ (-Parse +ParseReaderAt):\n%s", diff)
		}
		for _, d := range a.Depends {
			if d == "" || strings.Contains(d, "-") {
				t.Fatalf("Parse returned dependency %q, want a non-empty normalized name", d)
			}
		}
	})
}

// FuzzParseBuiltin feeds arbitrary bytes to the modules.builtin.modinfo parser.
func FuzzParseBuiltin(f *testing.F) {
	if b, err := os.ReadFile("testdata/modules.builtin.modinfo"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("foo-bar.alias=a-b\x00\x00m.parm=x:y\x00"))
	f.Add([]byte("m.softdep=pre: a post: b\x00m.depends=x,y-z\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mods, err := ParseBuiltin(data)
		if err != nil {
			return
		}
		for name, info := range mods {
			if name == "" || strings.Contains(name, "-") || info.Name != name {
				t.Fatalf("ParseBuiltin returned module %q with Name %q", name, info.Name)
			}
		}
	})
}

// FuzzDecompressBytes feeds arbitrary bytes to the decompressors (and the xz index reader
// that sizes their buffer). Errors are expected; panics are not.
func FuzzDecompressBytes(f *testing.F) {
	for _, p := range []string{"testdata/libcrc32c.ko.xz", "testdata/libcrc32c.ko.zst", "testdata/libcrc32c.ko.gz"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := DecompressBytes(data)
		if err == nil && len(out) > MaxModuleSize {
			t.Fatalf("DecompressBytes returned %d bytes, more than MaxModuleSize", len(out))
		}
	})
}
