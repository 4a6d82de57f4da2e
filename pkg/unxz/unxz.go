package unxz

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"sync"
)

var (
	// ErrCorrupt is wrapped by every error about data that is not valid .xz: bad magic, a
	// checksum or size that does not match, truncation, an impossible LZMA2 chunk.
	ErrCorrupt = errors.New("corrupt xz data")
	// ErrUnsupported is wrapped by errors about valid .xz features this package does not
	// implement: filters other than LZMA2, unknown check types, reserved flags.
	ErrUnsupported = errors.New("unsupported xz feature")
	// ErrTooLarge is wrapped when the output would exceed the caller's limit.
	ErrTooLarge = errors.New("xz output exceeds the limit")
)

// Check types (the low four bits of the stream flags).
const (
	checkNone   = 0x00
	checkCRC32  = 0x01
	checkCRC64  = 0x04
	checkSHA256 = 0x0A
)

const (
	headerMagic = "\xfd7zXZ\x00"
	footerMagic = "YZ"
	streamHdr   = 12 // stream header and stream footer size
	filterLZMA2 = 0x21
)

// errAt returns an error naming what failed and the byte offset in the input where it did,
// wrapping one of the package sentinels.
func errAt(sentinel error, off int, format string, args ...any) error {
	return fmt.Errorf("xz: %s at byte %d: %w", fmt.Sprintf(format, args...), off, sentinel)
}

// lzmaPool keeps LZMA decoders (about 100 KB each) for reuse by later calls. Every block resets
// the decoder's state before use.
var lzmaPool sync.Pool

// record is one block as the index describes it.
type record struct {
	unpadded, uncompressed uint64
}

// decoder is the state of one Decode call.
type decoder struct {
	src   []byte
	out   []byte // allocated output; out[:pos] is decoded so far
	pos   int
	limit int
	lz    *lzmaDecoder
	recs  []record
	buf   [4]record // backing for recs: most files have one block per stream
}

// Decode decompresses the whole .xz data src (one or more concatenated streams, with stream
// padding) and returns the uncompressed bytes. It fails with an error wrapping ErrTooLarge when
// the output would exceed limit bytes.
//
// Errors wrap ErrCorrupt, ErrUnsupported or ErrTooLarge and name the structure that failed and
// its byte offset in src. Decode allocates at most about limit bytes of output, whatever the
// input declares. It is safe for concurrent use.
func Decode(src []byte, limit int) ([]byte, error) {
	d := decoder{src: src, limit: max(limit, 0)}
	d.recs = d.buf[:0]
	defer func() {
		if d.lz != nil {
			lzmaPool.Put(d.lz)
		}
	}()
	// The indexes at the end of each stream say how large the output is; when they are readable,
	// allocate it once. The forward pass below verifies everything, so a lying index costs at
	// most an allocation of limit bytes.
	if total, ok := indexedSize(src); ok {
		if total > uint64(d.limit) {
			return nil, errAt(ErrTooLarge, 0, "the indexes declare %d bytes of output, limit %d",
				total, d.limit)
		}
		d.out = make([]byte, total)
	}
	off := 0
	for {
		var err error
		if off, err = d.stream(off); err != nil {
			return nil, err
		}
		start := off
		for off < len(src) && src[off] == 0 {
			off++
		}
		if (off-start)%4 != 0 {
			return nil, errAt(ErrCorrupt, start, "stream padding of %d bytes (not a multiple of 4)",
				off-start)
		}
		if off == len(src) {
			return d.out[:d.pos:d.pos], nil
		}
	}
}

// checkSize returns the size of the check field for a check type, or -1 for an unsupported one.
func checkSize(check byte) int {
	switch check {
	case checkNone:
		return 0
	case checkCRC32:
		return 4
	case checkCRC64:
		return 8
	case checkSHA256:
		return 32
	}
	return -1
}

// stream decodes the stream starting at src[off] and returns the offset just past its footer.
func (d *decoder) stream(off int) (int, error) {
	src := d.src
	if len(src)-off < streamHdr {
		return 0, errAt(ErrCorrupt, off, "stream header truncated (%d of 12 bytes)", len(src)-off)
	}
	h := src[off : off+streamHdr]
	if string(h[:6]) != headerMagic {
		return 0, errAt(ErrCorrupt, off, "stream header magic % x (want fd 37 7a 58 5a 00)", h[:6])
	}
	if crc32.ChecksumIEEE(h[6:8]) != binary.LittleEndian.Uint32(h[8:]) {
		return 0, errAt(ErrCorrupt, off+8, "stream header CRC32 mismatch")
	}
	flags := h[6:8]
	if flags[0] != 0 || flags[1]&0xF0 != 0 {
		return 0, errAt(ErrUnsupported, off+6, "stream flags % x have reserved bits set", flags)
	}
	check := flags[1]
	if checkSize(check) < 0 {
		return 0, errAt(ErrUnsupported, off+7, "check type 0x%02x (supported: none, CRC32, "+
			"CRC64, SHA-256)", check)
	}
	start := off
	off += streamHdr
	d.recs = d.recs[:0]
	for {
		if off >= len(src) {
			return 0, errAt(ErrCorrupt, off, "stream truncated before its index")
		}
		if src[off] == 0 {
			break
		}
		var err error
		if off, err = d.block(off, check); err != nil {
			return 0, err
		}
	}
	indexStart := off
	off, err := d.index(off)
	if err != nil {
		return 0, err
	}
	if len(src)-off < streamHdr {
		return 0, errAt(ErrCorrupt, off, "stream footer truncated (%d of 12 bytes)", len(src)-off)
	}
	f := src[off : off+streamHdr]
	if crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f) {
		return 0, errAt(ErrCorrupt, off, "stream footer CRC32 mismatch")
	}
	if string(f[10:]) != footerMagic {
		return 0, errAt(ErrCorrupt, off+10, "stream footer magic % x (want 59 5a)", f[10:])
	}
	if backward := (uint64(binary.LittleEndian.Uint32(f[4:])) + 1) * 4; backward != uint64(off-indexStart) {
		return 0, errAt(ErrCorrupt, off+4, "stream footer's backward size %d differs from the "+
			"index size %d", backward, off-indexStart)
	}
	if f[8] != flags[0] || f[9] != flags[1] {
		return 0, errAt(ErrCorrupt, off+8, "stream footer flags % x differ from the header's "+
			"% x (stream at byte %d)", f[8:10], flags, start)
	}
	return off + streamHdr, nil
}

// filterName names the filters of the .xz format this package refuses. (A switch, not a map: a
// package-level map is built by init code at every process start.)
func filterName(id uint64) string {
	switch id {
	case 0x03:
		return "delta"
	case 0x04:
		return "BCJ x86"
	case 0x05:
		return "BCJ PowerPC"
	case 0x06:
		return "BCJ IA-64"
	case 0x07:
		return "BCJ ARM"
	case 0x08:
		return "BCJ ARM-Thumb"
	case 0x09:
		return "BCJ SPARC"
	case 0x0A:
		return "BCJ ARM64"
	case 0x0B:
		return "BCJ RISC-V"
	}
	return "unknown"
}

// block decodes the block starting at src[off] (its header size byte) and returns the offset
// just past its check field. It appends the block's record for the index check.
func (d *decoder) block(off int, check byte) (int, error) {
	src := d.src
	blockStart := off
	hsize := (int(src[off]) + 1) * 4
	if len(src)-off < hsize {
		return 0, errAt(ErrCorrupt, off, "block header truncated (%d of %d bytes)",
			len(src)-off, hsize)
	}
	h := src[off : off+hsize]
	if crc32.ChecksumIEEE(h[:hsize-4]) != binary.LittleEndian.Uint32(h[hsize-4:]) {
		return 0, errAt(ErrCorrupt, off, "block header CRC32 mismatch")
	}
	flags := h[1]
	if flags&0x3C != 0 {
		return 0, errAt(ErrUnsupported, off+1, "block flags 0x%02x have reserved bits set", flags)
	}
	fields := h[:hsize-4]
	p := 2
	field := func(name string) (uint64, error) {
		v, n := vli(fields[p:])
		if n == 0 {
			return 0, errAt(ErrCorrupt, off+p, "block header %s is not a valid number", name)
		}
		p += n
		return v, nil
	}
	csize, usize := uint64(0), uint64(0)
	var err error
	if flags&0x40 != 0 {
		if csize, err = field("compressed size"); err != nil {
			return 0, err
		}
		if csize == 0 {
			return 0, errAt(ErrCorrupt, off+p-1, "block header declares compressed size 0")
		}
	}
	if flags&0x80 != 0 {
		if usize, err = field("uncompressed size"); err != nil {
			return 0, err
		}
	}
	nfilters := int(flags&3) + 1
	var dictSize uint32
	for i := range nfilters {
		at := off + p
		id, err := field("filter ID")
		if err != nil {
			return 0, err
		}
		psize, err := field("filter properties size")
		if err != nil {
			return 0, err
		}
		if psize > uint64(len(fields)-p) {
			return 0, errAt(ErrCorrupt, off+p, "filter properties (%d bytes) overrun the block "+
				"header", psize)
		}
		props := fields[p : p+int(psize)]
		p += int(psize)
		if id != filterLZMA2 {
			return 0, errAt(ErrUnsupported, at, "filter 0x%02x (%s) (only LZMA2 is supported)",
				id, filterName(id))
		}
		if i != nfilters-1 {
			return 0, errAt(ErrUnsupported, at, "LZMA2 filter is not the last of %d filters",
				nfilters)
		}
		if len(props) != 1 {
			return 0, errAt(ErrCorrupt, at, "LZMA2 filter properties are %d bytes, want 1",
				len(props))
		}
		// The dictionary size bounds how far back matches may reach. The whole output is the
		// dictionary, so it needs no buffer of its own.
		b := props[0]
		if b > 40 {
			return 0, errAt(ErrUnsupported, off+p-1, "LZMA2 dictionary size byte 0x%02x", b)
		}
		dictSize = 0xFFFFFFFF
		if b < 40 {
			dictSize = (2 | uint32(b)&1) << (b/2 + 11)
		}
	}
	for ; p < len(fields); p++ {
		if fields[p] != 0 {
			return 0, errAt(ErrUnsupported, off+p, "block header padding is not zero")
		}
	}

	off += hsize
	data := src[off:]
	if flags&0x40 != 0 {
		if csize > uint64(len(data)) {
			return 0, errAt(ErrCorrupt, off, "block data truncated (%d of %d declared bytes)",
				len(data), csize)
		}
		data = data[:csize]
	}
	outStart := d.pos
	if flags&0x80 != 0 {
		if usize > uint64(d.limit-d.pos) {
			return 0, errAt(ErrTooLarge, blockStart, "block declares %d bytes of output after %d, "+
				"limit %d", usize, d.pos, d.limit)
		}
		d.reserve(int(usize), true)
	}
	n, err := d.lzma2(data, off, dictSize)
	if err != nil {
		return 0, err
	}
	if flags&0x40 != 0 && uint64(n) != csize {
		return 0, errAt(ErrCorrupt, off, "block data is %d bytes, the header declares %d", n, csize)
	}
	if flags&0x80 != 0 && uint64(d.pos-outStart) != usize {
		return 0, errAt(ErrCorrupt, off, "block decodes to %d bytes, the header declares %d",
			d.pos-outStart, usize)
	}
	off += n
	for (off-blockStart)%4 != 0 {
		if off >= len(src) {
			return 0, errAt(ErrCorrupt, off, "block padding truncated")
		}
		if src[off] != 0 {
			return 0, errAt(ErrCorrupt, off, "block padding is not zero")
		}
		off++
	}
	cs := checkSize(check)
	if len(src)-off < cs {
		return 0, errAt(ErrCorrupt, off, "block check truncated (%d of %d bytes)", len(src)-off, cs)
	}
	got := d.out[outStart:d.pos]
	want := src[off : off+cs]
	switch check {
	case checkCRC32:
		if crc32.ChecksumIEEE(got) != binary.LittleEndian.Uint32(want) {
			return 0, errAt(ErrCorrupt, off, "block CRC32 mismatch")
		}
	case checkCRC64:
		if crc64.Checksum(got, crc64.MakeTable(crc64.ECMA)) != binary.LittleEndian.Uint64(want) {
			return 0, errAt(ErrCorrupt, off, "block CRC64 mismatch")
		}
	case checkSHA256:
		if sum := sha256Sum(got); string(sum[:]) != string(want) {
			return 0, errAt(ErrCorrupt, off, "block SHA-256 mismatch")
		}
	}
	off += cs
	d.recs = append(d.recs, record{
		unpadded:     uint64(hsize + n + cs),
		uncompressed: uint64(d.pos - outStart),
	})
	return off, nil
}

// reserve makes room for n more bytes of output; the caller has checked n against the limit.
// An exact reservation (a declared size) allocates just that; otherwise the buffer doubles.
func (d *decoder) reserve(n int, exact bool) {
	need := d.pos + n
	if need <= len(d.out) {
		return
	}
	size := need
	if !exact {
		size = min(max(need, 2*len(d.out), 64<<10), d.limit)
	}
	out := make([]byte, size)
	copy(out, d.out[:d.pos])
	d.out = out
}

// lzma2 decodes the LZMA2 data at the start of in (which starts at byte base of the input) up
// to and including its end marker, appending to d.out. It returns the bytes of in consumed.
func (d *decoder) lzma2(in []byte, base int, dictSize uint32) (int, error) {
	if d.lz == nil {
		d.lz, _ = lzmaPool.Get().(*lzmaDecoder)
		if d.lz == nil {
			d.lz = new(lzmaDecoder)
		}
	}
	lz := d.lz
	lz.dictSize = dictSize
	needDictReset, needProps := true, true
	dictStart := d.pos
	p := 0
	for {
		if p >= len(in) {
			return 0, errAt(ErrCorrupt, base+p, "LZMA2 data truncated (no end marker)")
		}
		at := base + p
		c := in[p]
		if c == 0x00 {
			return p + 1, nil
		}
		if c >= 0xE0 || c == 0x01 {
			needProps = true
			needDictReset = false
			dictStart = d.pos
		} else if needDictReset {
			return 0, errAt(ErrCorrupt, at, "first LZMA2 chunk (control 0x%02x) does not reset "+
				"the dictionary", c)
		}
		if c < 0x80 {
			if c > 0x02 {
				return 0, errAt(ErrCorrupt, at, "invalid LZMA2 control byte 0x%02x", c)
			}
			if len(in)-p < 3 {
				return 0, errAt(ErrCorrupt, at, "LZMA2 chunk header truncated")
			}
			size := int(in[p+1])<<8 | int(in[p+2]) + 1
			p += 3
			if len(in)-p < size {
				return 0, errAt(ErrCorrupt, base+p, "uncompressed LZMA2 chunk truncated (%d of "+
					"%d bytes)", len(in)-p, size)
			}
			if err := d.room(size, at); err != nil {
				return 0, err
			}
			d.pos += copy(d.out[d.pos:], in[p:p+size])
			p += size
			continue
		}
		hdr := 5
		if c >= 0xC0 {
			hdr = 6
		}
		if len(in)-p < hdr {
			return 0, errAt(ErrCorrupt, at, "LZMA2 chunk header truncated")
		}
		usize := int(c&0x1F)<<16 | int(in[p+1])<<8 | int(in[p+2]) + 1
		csize := int(in[p+3])<<8 | int(in[p+4]) + 1
		if c >= 0xC0 {
			if !lz.setProps(in[p+5]) {
				return 0, errAt(ErrCorrupt, at+5, "invalid LZMA properties 0x%02x (lc+lp > 4 "+
					"or out of range)", in[p+5])
			}
			needProps = false
		} else if needProps {
			return 0, errAt(ErrCorrupt, at, "LZMA2 chunk (control 0x%02x) without properties "+
				"after a dictionary reset", c)
		}
		if c >= 0xA0 {
			lz.reset()
		}
		p += hdr
		if len(in)-p < csize {
			return 0, errAt(ErrCorrupt, base+p, "LZMA2 chunk data truncated (%d of %d bytes)",
				len(in)-p, csize)
		}
		if err := d.room(usize, at); err != nil {
			return 0, err
		}
		if err := lz.decodeChunk(d.out[:d.pos+usize], d.pos, dictStart, in[p:], csize); err != nil {
			return 0, errAt(ErrCorrupt, base+p, "LZMA chunk: %v", err)
		}
		d.pos += usize
		p += csize
	}
}

// room checks that n more bytes of output fit the limit and makes room for them.
func (d *decoder) room(n, at int) error {
	if n > d.limit-d.pos {
		return errAt(ErrTooLarge, at, "LZMA2 chunk of %d bytes after %d bytes of output, limit %d",
			n, d.pos, d.limit)
	}
	d.reserve(n, false)
	return nil
}

// index checks the index at src[off] against the blocks decoded and returns the offset just past
// it (its CRC32 included).
func (d *decoder) index(off int) (int, error) {
	src := d.src
	start := off
	p := off + 1
	num := func(name string) (uint64, error) {
		v, n := vli(src[p:])
		if n == 0 {
			return 0, errAt(ErrCorrupt, p, "index %s is not a valid number", name)
		}
		p += n
		return v, nil
	}
	count, err := num("record count")
	if err != nil {
		return 0, err
	}
	if count != uint64(len(d.recs)) {
		return 0, errAt(ErrCorrupt, off+1, "index lists %d blocks, the stream has %d", count,
			len(d.recs))
	}
	for i, r := range d.recs {
		at := p
		unpadded, err := num("unpadded size")
		if err != nil {
			return 0, err
		}
		uncompressed, err := num("uncompressed size")
		if err != nil {
			return 0, err
		}
		if unpadded != r.unpadded || uncompressed != r.uncompressed {
			return 0, errAt(ErrCorrupt, at, "index record %d (unpadded %d, uncompressed %d) "+
				"differs from the block (unpadded %d, uncompressed %d)", i, unpadded,
				uncompressed, r.unpadded, r.uncompressed)
		}
	}
	for (p-start)%4 != 0 {
		if p >= len(src) {
			return 0, errAt(ErrCorrupt, p, "index padding truncated")
		}
		if src[p] != 0 {
			return 0, errAt(ErrCorrupt, p, "index padding is not zero")
		}
		p++
	}
	if len(src)-p < 4 {
		return 0, errAt(ErrCorrupt, p, "index CRC32 truncated")
	}
	if crc32.ChecksumIEEE(src[start:p]) != binary.LittleEndian.Uint32(src[p:]) {
		return 0, errAt(ErrCorrupt, p, "index CRC32 mismatch")
	}
	return p + 4, nil
}

// vli decodes a variable-length integer of the .xz format (7 bits per byte, little endian, at
// most 9 bytes, minimally encoded). It returns the value and its length, or length 0 when b does
// not start with a valid one.
func vli(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < 9 && i < len(b); i++ {
		c := b[i]
		v |= uint64(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, 0
			}
			return v, i + 1
		}
	}
	return 0, 0
}

// indexedSize returns the total uncompressed size the indexes of all streams in src declare, by
// walking the streams from the end (footer, index, stream header). It reports false when that
// walk fails; the forward decoding then finds and reports the problem.
func indexedSize(src []byte) (uint64, bool) {
	end := len(src)
	var total uint64
	for end > 0 {
		for end >= 4 && string(src[end-4:end]) == "\x00\x00\x00\x00" {
			end -= 4
		}
		if end < 2*streamHdr {
			return 0, false
		}
		f := src[end-streamHdr : end]
		if string(f[10:]) != footerMagic || crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f) {
			return 0, false
		}
		backward := (uint64(binary.LittleEndian.Uint32(f[4:])) + 1) * 4
		idxEnd := end - streamHdr
		if backward < 8 || backward > uint64(idxEnd-streamHdr) {
			return 0, false
		}
		idxStart := idxEnd - int(backward)
		if src[idxStart] != 0 ||
			crc32.ChecksumIEEE(src[idxStart:idxEnd-4]) != binary.LittleEndian.Uint32(src[idxEnd-4:]) {
			return 0, false
		}
		idx := src[idxStart : idxEnd-4]
		count, n := vli(idx[1:])
		if n == 0 {
			return 0, false
		}
		p := 1 + n
		var blocks uint64
		for range count {
			u, n := vli(idx[p:])
			if n == 0 {
				return 0, false
			}
			p += n
			s, n := vli(idx[p:])
			if n == 0 {
				return 0, false
			}
			p += n
			blocks += (u + 3) &^ 3
			total += s
			if blocks > uint64(len(src)) || total > 1<<62 {
				return 0, false
			}
		}
		streamStart := idxStart - int(blocks) - streamHdr
		if streamStart < 0 || string(src[streamStart:streamStart+6]) != headerMagic {
			return 0, false
		}
		end = streamStart
	}
	return total, true
}
