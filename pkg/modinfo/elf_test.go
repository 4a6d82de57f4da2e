package modinfo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// testSection is one section of a synthetic ELF built by buildELF.
type testSection struct {
	name string
	typ  uint32
	data []byte
}

// buildELF writes a minimal relocatable ELF with the given sections (plus the NULL section and
// .shstrtab) in the given class and byte order: header, section contents, section name table,
// section header table.
func buildELF(is64 bool, bo binary.ByteOrder, secs []testSection) []byte {
	hsize, shsize := ehdrSize32, shdrSize32
	if is64 {
		hsize, shsize = ehdrSize64, shdrSize64
	}
	var body bytes.Buffer
	body.Write(make([]byte, hsize))
	names := []byte{0}
	type placed struct {
		nameOff, typ uint32
		off, size    uint64
	}
	var hdrs []placed
	for _, s := range secs {
		typ := s.typ
		if typ == 0 {
			typ = 1 // PROGBITS
		}
		hdrs = append(hdrs, placed{uint32(len(names)), typ, uint64(body.Len()), uint64(len(s.data))})
		names = append(append(names, s.name...), 0)
		body.Write(s.data)
	}
	strOff := uint64(body.Len())
	hdrs = append(hdrs, placed{uint32(len(names)), 3, strOff, 0})
	names = append(append(names, ".shstrtab"...), 0)
	hdrs[len(hdrs)-1].size = uint64(len(names))
	body.Write(names)
	for body.Len()%8 != 0 {
		body.WriteByte(0)
	}
	shoff := uint64(body.Len())
	body.Write(make([]byte, shsize)) // NULL section
	for _, h := range hdrs {
		sh := make([]byte, shsize)
		bo.PutUint32(sh[0:], h.nameOff)
		bo.PutUint32(sh[4:], h.typ)
		if is64 {
			bo.PutUint64(sh[24:], h.off)
			bo.PutUint64(sh[32:], h.size)
		} else {
			bo.PutUint32(sh[16:], uint32(h.off))
			bo.PutUint32(sh[20:], uint32(h.size))
		}
		body.Write(sh)
	}
	out := body.Bytes()
	copy(out, "\x7fELF")
	out[4] = elfClass32
	if is64 {
		out[4] = elfClass64
	}
	out[5] = elfData2LSB
	if bo == binary.BigEndian {
		out[5] = elfData2MSB
	}
	out[6] = 1
	bo.PutUint16(out[16:], etRel)
	shnum := uint16(len(hdrs) + 1)
	if is64 {
		bo.PutUint64(out[40:], shoff)
		bo.PutUint16(out[52:], uint16(hsize))
		bo.PutUint16(out[58:], uint16(shsize))
		bo.PutUint16(out[60:], shnum)
		bo.PutUint16(out[62:], shnum-1)
	} else {
		bo.PutUint32(out[32:], uint32(shoff))
		bo.PutUint16(out[40:], uint16(hsize))
		bo.PutUint16(out[46:], uint16(shsize))
		bo.PutUint16(out[48:], shnum)
		bo.PutUint16(out[50:], shnum-1)
	}
	return out
}

const testModinfo = "license=GPL\x00\x00\x00alias=foo-bar\x00depends=a-b,c\x00name=my-mod\x00" +
	"softdep=pre: x y post: z\x00vermagic=6.1.0 SMP\x00parm=p1:first\x00parmtype=p1:int\x00" +
	"parmtype=p2:bool\x00firmware=fw.bin\x00intree=Y\x00noequals\x00"

func TestParseSynthetic(t *testing.T) {
	secs := []testSection{
		{name: ".text", data: []byte{0xc3}},
		{name: ".modinfo", data: []byte(testModinfo)},
		{name: ".bss", typ: shtNobits},
	}
	want := &Info{
		Name: "my_mod", Depends: []string{"a_b", "c"}, Aliases: []string{"foo-bar"},
		SoftdepPre: []string{"x", "y"}, SoftdepPost: []string{"z"}, Firmware: []string{"fw.bin"},
		Vermagic: "6.1.0 SMP", Params: []string{"p1", "p2"}, License: "GPL", Intree: true,
	}
	for _, tc := range []struct {
		name string
		is64 bool
		bo   binary.ByteOrder
	}{
		{"elf64le", true, binary.LittleEndian},
		{"elf64be", true, binary.BigEndian},
		{"elf32le", false, binary.LittleEndian},
		{"elf32be", false, binary.BigEndian},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := buildELF(tc.is64, tc.bo, secs)
			got, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := diffInfo(want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
			got2, err := ParseReaderAt(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatalf("ParseReaderAt: %v", err)
			}
			if diff := diffInfo(want, got2); diff != "" {
				t.Errorf("ParseReaderAt mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseBad feeds damaged ELF data and checks each gives the documented error, not a panic.
func TestParseBad(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "emu10k1-gp.ko"))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	shoff := le.Uint64(good[40:])
	shnum := uint64(le.Uint16(good[60:]))
	// mutate returns a copy of good changed by f.
	mutate := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	// sectionHeader returns the offset of the header of the section called name.
	sectionHeader := func(name string) uint64 {
		strndx := uint64(le.Uint16(good[62:]))
		strs := good[shoff+strndx*64:]
		names := good[le.Uint64(strs[24:]):]
		for i := range shnum {
			h := shoff + i*64
			if nameIs(names, le.Uint32(good[h:]), name) {
				return h
			}
		}
		t.Fatalf("fixture has no section %s", name)
		return 0
	}
	modinfoHdr := sectionHeader(".modinfo")
	modinfoOff := le.Uint64(good[modinfoHdr+24:])

	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotELF},
		{"garbage", []byte("this is not a kernel module at all, just text"), ErrNotELF},
		{"ident only", good[:16], ErrCorrupt},
		{"truncated header", good[:40], ErrCorrupt},
		{"header only", good[:64], ErrCorrupt},
		{"truncated section table", good[:shoff+shnum*64-1], ErrCorrupt},
		{"truncated before modinfo", good[:modinfoOff+2], ErrCorrupt},
		{"bad class", mutate(func(b []byte) { b[4] = 9 }), ErrNotELF},
		{"bad byte order", mutate(func(b []byte) { b[5] = 0 }), ErrNotELF},
		{"executable", mutate(func(b []byte) { le.PutUint16(b[16:], 2) }), ErrNotModule},
		{"shoff zero", mutate(func(b []byte) { le.PutUint64(b[40:], 0) }), ErrCorrupt},
		{"shoff past EOF", mutate(func(b []byte) { le.PutUint64(b[40:], uint64(len(b))+100) }), ErrCorrupt},
		{"shoff huge", mutate(func(b []byte) { le.PutUint64(b[40:], ^uint64(0)-10) }), ErrCorrupt},
		{"shentsize small", mutate(func(b []byte) { le.PutUint16(b[58:], 10) }), ErrCorrupt},
		{"shnum too big", mutate(func(b []byte) { le.PutUint16(b[60:], 0xfff0) }), ErrCorrupt},
		{"shstrndx out of range", mutate(func(b []byte) { le.PutUint16(b[62:], uint16(shnum)) }), ErrCorrupt},
		{"modinfo past EOF", mutate(func(b []byte) { le.PutUint64(b[modinfoHdr+24:], uint64(len(b))-4) }), ErrCorrupt},
		{"modinfo size huge", mutate(func(b []byte) { le.PutUint64(b[modinfoHdr+32:], ^uint64(0)) }), ErrCorrupt},
		{"modinfo nobits", mutate(func(b []byte) { le.PutUint32(b[modinfoHdr+4:], shtNobits) }), ErrCorrupt},
		{"no modinfo", mutate(func(b []byte) {
			strndx := uint64(le.Uint16(b[62:]))
			names := b[le.Uint64(b[shoff+strndx*64+24:]):]
			n := le.Uint32(b[modinfoHdr:])
			names[n+1] = 'X' // ".modinfo" becomes ".Xodinfo"
		}), ErrNoModinfo},
		{"synthetic without modinfo", buildELF(true, le, []testSection{{name: ".text", data: []byte{1}}}), ErrNoModinfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if !errors.Is(err, tc.want) {
				t.Errorf("Parse(%s) error = %v, want %v", tc.name, err, tc.want)
			}
			_, err = ParseReaderAt(bytes.NewReader(tc.data), int64(len(tc.data)))
			if !errors.Is(err, tc.want) {
				t.Errorf("ParseReaderAt(%s) error = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

// TestExtendedNumbering checks e_shnum == 0 and e_shstrndx == SHN_XINDEX, where the real
// values live in section 0.
func TestExtendedNumbering(t *testing.T) {
	le := binary.LittleEndian
	data := buildELF(true, le, []testSection{{name: ".modinfo", data: []byte("name=x\x00")}})
	shoff := le.Uint64(data[40:])
	shnum := le.Uint16(data[60:])
	strndx := le.Uint16(data[62:])
	le.PutUint64(data[shoff+32:], uint64(shnum))  // section 0 sh_size = real shnum
	le.PutUint32(data[shoff+40:], uint32(strndx)) // section 0 sh_link = real shstrndx
	le.PutUint16(data[60:], 0)
	le.PutUint16(data[62:], shnXindex)
	got, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got.Name != "x" {
		t.Errorf("Parse().Name = %q, want %q", got.Name, "x")
	}
}
