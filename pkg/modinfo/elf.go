package modinfo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Errors returned (wrapped) by Parse, ParseReaderAt and ReadFile. Test with errors.Is.
var (
	// ErrNotELF means the data does not start with the ELF magic, or its ELF class or byte
	// order is not one this package knows.
	ErrNotELF = errors.New("not an ELF file")
	// ErrNotModule means the data is ELF but not a relocatable object (kernel modules are
	// ET_REL; an executable or shared library is not a module).
	ErrNotModule = errors.New("not a relocatable ELF object (kernel modules are ET_REL)")
	// ErrCorrupt means an offset or size in the ELF headers points outside the data, i.e. the
	// file is truncated or damaged.
	ErrCorrupt = errors.New("corrupt or truncated ELF")
	// ErrNoModinfo means the ELF has no .modinfo section, so it is not a kernel module (or
	// it was stripped of it).
	ErrNoModinfo = errors.New("no .modinfo section")
)

// ELF constants this reader needs (see elf(5)).
const (
	elfClass32   = 1
	elfClass64   = 2
	elfData2LSB  = 1
	elfData2MSB  = 2
	etRel        = 1
	shtNobits    = 8
	shnXindex    = 0xffff
	ehdrSize32   = 52
	ehdrSize64   = 64
	shdrSize32   = 40
	shdrSize64   = 64
	maxModinfo   = 16 << 20 // a .modinfo larger than this is certainly not a real one
	tailReadSlop = 4096     // bytes read before the section headers, to catch .shstrtab
)

// reader is the random access the ELF walk needs. at returns exactly n bytes at off or an
// error; the bytes may alias the reader's storage and must not be modified.
type reader interface {
	at(off, n uint64) ([]byte, error)
	size() uint64
}

// memReader serves reads from a byte slice without copying.
type memReader []byte

func (m memReader) size() uint64 { return uint64(len(m)) }

func (m memReader) at(off, n uint64) ([]byte, error) {
	if off > uint64(len(m)) || n > uint64(len(m))-off {
		return nil, fmt.Errorf("%w: %d bytes at offset %d pass the end of the data (%d bytes)",
			ErrCorrupt, n, off, len(m))
	}
	return m[off : off+n : off+n], nil
}

// fileReader serves reads with ReadAt and remembers one window (the tail holding the section
// headers and, usually, .shstrtab) so that a typical module costs three reads.
type fileReader struct {
	r     io.ReaderAt
	n     uint64
	wOff  uint64
	wData []byte
}

func (f *fileReader) size() uint64 { return f.n }

func (f *fileReader) at(off, n uint64) ([]byte, error) {
	if off > f.n || n > f.n-off {
		return nil, fmt.Errorf("%w: %d bytes at offset %d pass the end of the file (%d bytes)",
			ErrCorrupt, n, off, f.n)
	}
	if off >= f.wOff && off+n <= f.wOff+uint64(len(f.wData)) {
		s := off - f.wOff
		return f.wData[s : s+n : s+n], nil
	}
	buf := make([]byte, n)
	if _, err := f.r.ReadAt(buf, int64(off)); err != nil {
		return nil, fmt.Errorf("read %d bytes at offset %d: %w", n, off, err)
	}
	return buf, nil
}

// window reads [off, off+n) into the cached window.
func (f *fileReader) window(off, n uint64) error {
	b, err := f.at(off, n)
	if err != nil {
		return err
	}
	f.wOff, f.wData = off, b
	return nil
}

// elfFile is the part of an ELF header the section walk needs.
type elfFile struct {
	bo       binary.ByteOrder
	is64     bool
	shoff    uint64
	shentsz  uint64
	shnum    uint64
	shstrndx uint64
}

// section is one decoded section header.
type section struct {
	name   uint32
	typ    uint32
	offset uint64
	size   uint64
	link   uint32
}

// parseHeader decodes and checks the ELF file header.
func parseHeader(r reader) (*elfFile, error) {
	if r.size() < 16 {
		return nil, fmt.Errorf("%w: %d bytes is shorter than an ELF identification", ErrNotELF, r.size())
	}
	ident, err := r.at(0, 16)
	if err != nil {
		return nil, err
	}
	if ident[0] != 0x7f || ident[1] != 'E' || ident[2] != 'L' || ident[3] != 'F' {
		return nil, fmt.Errorf("%w: bad magic % x", ErrNotELF, ident[:4])
	}
	e := &elfFile{}
	switch ident[5] {
	case elfData2LSB:
		e.bo = binary.LittleEndian
	case elfData2MSB:
		e.bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: unknown byte order %d in e_ident[EI_DATA]", ErrNotELF, ident[5])
	}
	var hsize uint64
	switch ident[4] {
	case elfClass32:
		hsize = ehdrSize32
	case elfClass64:
		e.is64, hsize = true, ehdrSize64
	default:
		return nil, fmt.Errorf("%w: unknown class %d in e_ident[EI_CLASS]", ErrNotELF, ident[4])
	}
	h, err := r.at(0, hsize)
	if err != nil {
		return nil, fmt.Errorf("%w: ELF header needs %d bytes, have %d", ErrCorrupt, hsize, r.size())
	}
	if t := e.bo.Uint16(h[16:]); t != etRel {
		return nil, fmt.Errorf("%w: e_type is %d", ErrNotModule, t)
	}
	var minEnt uint64
	if e.is64 {
		e.shoff = e.bo.Uint64(h[40:])
		e.shentsz = uint64(e.bo.Uint16(h[58:]))
		e.shnum = uint64(e.bo.Uint16(h[60:]))
		e.shstrndx = uint64(e.bo.Uint16(h[62:]))
		minEnt = shdrSize64
	} else {
		e.shoff = uint64(e.bo.Uint32(h[32:]))
		e.shentsz = uint64(e.bo.Uint16(h[46:]))
		e.shnum = uint64(e.bo.Uint16(h[48:]))
		e.shstrndx = uint64(e.bo.Uint16(h[50:]))
		minEnt = shdrSize32
	}
	if e.shoff == 0 {
		return nil, fmt.Errorf("%w: no section header table (e_shoff is 0)", ErrCorrupt)
	}
	if e.shentsz < minEnt {
		return nil, fmt.Errorf("%w: e_shentsize %d is smaller than a section header (%d)",
			ErrCorrupt, e.shentsz, minEnt)
	}
	return e, nil
}

// sectionAt decodes section header i; raw holds the whole table.
func (e *elfFile) sectionAt(raw []byte, i uint64) section {
	b := raw[i*e.shentsz:]
	if e.is64 {
		return section{
			name:   e.bo.Uint32(b[0:]),
			typ:    e.bo.Uint32(b[4:]),
			offset: e.bo.Uint64(b[24:]),
			size:   e.bo.Uint64(b[32:]),
			link:   e.bo.Uint32(b[40:]),
		}
	}
	return section{
		name:   e.bo.Uint32(b[0:]),
		typ:    e.bo.Uint32(b[4:]),
		offset: uint64(e.bo.Uint32(b[16:])),
		size:   uint64(e.bo.Uint32(b[20:])),
		link:   e.bo.Uint32(b[24:]),
	}
}

// findModinfo returns the contents of the .modinfo section.
func findModinfo(r reader) ([]byte, error) {
	e, err := parseHeader(r)
	if err != nil {
		return nil, err
	}
	size := r.size()
	if e.shoff > size || e.shentsz > size-e.shoff {
		return nil, fmt.Errorf("%w: section header table at offset %d passes the end of the data (%d bytes)",
			ErrCorrupt, e.shoff, size)
	}
	// Extended numbering: with more than 0xff00 sections the counts live in section 0.
	if e.shnum == 0 || e.shstrndx == shnXindex {
		first, err := r.at(e.shoff, e.shentsz)
		if err != nil {
			return nil, err
		}
		s0 := e.sectionAt(first, 0)
		if e.shnum == 0 {
			e.shnum = s0.size
		}
		if e.shstrndx == shnXindex {
			e.shstrndx = uint64(s0.link)
		}
	}
	if e.shnum == 0 {
		return nil, fmt.Errorf("%w: the section header table is empty", ErrNoModinfo)
	}
	if e.shnum > (size-e.shoff)/e.shentsz {
		return nil, fmt.Errorf("%w: section header table (offset %d, %d entries of %d bytes) passes the end of the data (%d bytes)",
			ErrCorrupt, e.shoff, e.shnum, e.shentsz, size)
	}
	if e.shstrndx >= e.shnum {
		return nil, fmt.Errorf("%w: section name table index %d is out of range (%d sections)",
			ErrCorrupt, e.shstrndx, e.shnum)
	}
	tableLen := e.shnum * e.shentsz
	if fr, ok := r.(*fileReader); ok {
		start := e.shoff - min(e.shoff, tailReadSlop)
		if err := fr.window(start, e.shoff+tableLen-start); err != nil {
			return nil, err
		}
	}
	table, err := r.at(e.shoff, tableLen)
	if err != nil {
		return nil, err
	}
	strs := e.sectionAt(table, e.shstrndx)
	if strs.typ == shtNobits {
		return nil, fmt.Errorf("%w: section name table (section %d) has no data", ErrCorrupt, e.shstrndx)
	}
	if strs.offset > size || strs.size > size-strs.offset {
		return nil, fmt.Errorf("%w: section name table (offset %d, %d bytes) passes the end of the data (%d bytes)",
			ErrCorrupt, strs.offset, strs.size, size)
	}
	names, err := r.at(strs.offset, strs.size)
	if err != nil {
		return nil, err
	}
	for i := uint64(1); i < e.shnum; i++ {
		s := e.sectionAt(table, i)
		if !nameIs(names, s.name, ".modinfo") {
			continue
		}
		if s.typ == shtNobits {
			return nil, fmt.Errorf("%w: .modinfo (section %d) has type NOBITS, so no contents", ErrCorrupt, i)
		}
		if s.offset > size || s.size > size-s.offset {
			return nil, fmt.Errorf("%w: .modinfo (offset %d, %d bytes) passes the end of the data (%d bytes)",
				ErrCorrupt, s.offset, s.size, size)
		}
		if s.size > maxModinfo {
			return nil, fmt.Errorf("%w: .modinfo is %d bytes, more than any real module has", ErrCorrupt, s.size)
		}
		return r.at(s.offset, s.size)
	}
	return nil, ErrNoModinfo
}

// nameIs reports whether the NUL-terminated string at off in names equals want.
func nameIs(names []byte, off uint32, want string) bool {
	o := uint64(off)
	n := uint64(len(want))
	if o >= uint64(len(names)) || n+1 > uint64(len(names))-o {
		return false
	}
	return string(names[o:o+n]) == want && names[o+n] == 0
}
