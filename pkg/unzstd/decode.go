package unzstd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// Sentinel errors. Every error returned by Decode wraps exactly one of them, with a message that
// names what failed and the byte offset in the input where it was found.
var (
	// ErrCorrupt reports input that is not valid Zstandard data: a bad magic number, a reserved
	// bit or block type, a size or offset out of bounds, a checksum mismatch, a truncated frame.
	ErrCorrupt = errors.New("corrupt zstd data")
	// ErrUnsupported reports a valid frame that this decoder refuses: one that needs a dictionary.
	ErrUnsupported = errors.New("unsupported zstd feature")
	// ErrTooLarge reports that the decompressed output would exceed the caller's limit.
	ErrTooLarge = errors.New("zstd output exceeds limit")
)

// errStrict is wrapped, beside ErrCorrupt, by the few checks where this decoder follows RFC 8878
// (or the reference decoder, libzstd) more strictly than klauspost/compress/zstd does, so the
// differential fuzz test can tell an intended disagreement from a bug.
var errStrict = errors.New("stricter than klauspost/compress")

const (
	frameMagic     = 0xFD2FB528
	skipMagicMask  = 0xFFFFFFF0
	skipMagic      = 0x184D2A50
	maxBlockSize   = 128 << 10
	wildCopySlack  = 32 // bytes past the logical end that block decoding may scribble on
	maxHuffmanBits = 11
)

func corruptf(off int, format string, args ...any) error {
	return fmt.Errorf("unzstd: byte %d: %s: %w", off, fmt.Sprintf(format, args...), ErrCorrupt)
}

func strictf(off int, format string, args ...any) error {
	return fmt.Errorf("unzstd: byte %d: %s: %w (%w)", off, fmt.Sprintf(format, args...), ErrCorrupt,
		errStrict)
}

// Decode decompresses the whole zstd data src (one or more frames, skippable frames allowed)
// and returns the uncompressed bytes. It fails with an error wrapping ErrTooLarge when the
// output would exceed limit bytes.
//
// Errors wrap ErrCorrupt for invalid or truncated input and ErrUnsupported for frames that need
// a dictionary; each names the failing structure and its byte offset in src. A negative limit
// is treated as zero.
func Decode(src []byte, limit int) ([]byte, error) {
	return decode(src, limit, nil)
}

// decode is Decode, counting in census (when not nil) the format features it meets.
func decode(src []byte, limit int, census map[string]int) ([]byte, error) {
	if limit < 0 {
		limit = 0
	}
	if len(src) == 0 {
		return nil, corruptf(0, "empty input, no zstd frame")
	}
	d := decoderPool.Get().(*decoder)
	defer d.release()
	d.src = src
	d.limit = limit
	d.census = census
	d.out = nil
	pos := 0
	for pos < len(src) {
		if len(src)-pos < 4 {
			return nil, corruptf(pos, "%d trailing bytes, too short for a frame magic number", len(src)-pos)
		}
		magic := binary.LittleEndian.Uint32(src[pos:])
		switch {
		case magic == frameMagic:
			next, err := d.frame(pos)
			if err != nil {
				return nil, err
			}
			pos = next
		case magic&skipMagicMask == skipMagic:
			if len(src)-pos < 8 {
				return nil, corruptf(pos, "skippable frame header truncated")
			}
			size := uint64(binary.LittleEndian.Uint32(src[pos+4:]))
			if size > uint64(len(src)-pos-8) {
				return nil, corruptf(pos, "skippable frame of %d bytes truncated to %d", size, len(src)-pos-8)
			}
			pos += 8 + int(size)
			d.note("frame/skippable")
		default:
			return nil, corruptf(pos, "bad magic number %#08x", magic)
		}
	}
	out := d.out
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// decoder holds the state of one Decode call: the input, the output, and the per-frame
// entropy tables and repeat offsets that blocks inherit from the blocks before them.
type decoder struct {
	src   []byte
	out   []byte
	limit int

	// Frame state.
	window     uint64 // Window_Size; offsets may not reach further back
	blockMax   int    // Block_Maximum_Size
	frameStart int    // index in out of the frame's first byte
	frameEnd   int    // frameStart + Frame_Content_Size, or -1 when the header has no size
	rep        [3]int // repeat offsets

	huff     huffTable
	haveHuff bool // huff holds the table of an earlier block of this frame

	// Sequence decoding tables for literal lengths, offsets and match lengths (kindLL,
	// kindOF, kindML), their accuracy logs, and whether an earlier block of the frame set
	// them (for Repeat_Mode).
	seq     [3]seqTable
	seqLog  [3]uint8
	haveSeq [3]bool
	weightT seqTable // FSE table of the Huffman weights

	seqs   [seqBatch]seqVal // a batch of decoded sequences
	litBuf []byte           // decoded literals (RLE and Huffman); cap >= maxBlockSize+wildCopySlack

	hash xxh64
	fse  fseScratch

	census map[string]int // features met, for tests; nil otherwise
}

// note counts feature k in the census, if there is one.
func (d *decoder) note(k string) {
	if d.census != nil {
		d.census[k]++
	}
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

func (d *decoder) release() {
	d.src, d.out, d.census = nil, nil, nil
	decoderPool.Put(d)
}

// frame decodes the frame starting at src[pos] (its magic number already checked) and returns
// the position after it.
func (d *decoder) frame(pos int) (int, error) {
	src := d.src
	start := pos
	pos += 4
	if pos >= len(src) {
		return 0, corruptf(pos, "frame header truncated")
	}
	fhd := src[pos]
	pos++
	if fhd&0x08 != 0 {
		return 0, corruptf(pos-1, "frame header descriptor %#02x has the reserved bit set", fhd)
	}
	single := fhd&0x20 != 0
	hasChecksum := fhd&0x04 != 0
	didSize := [4]int{0, 1, 2, 4}[fhd&3]
	fcsSize := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcsSize == 0 && single {
		fcsSize = 1
	}
	need := didSize + fcsSize
	if !single {
		need++
	}
	if len(src)-pos < need {
		return 0, corruptf(start, "frame header needs %d more bytes, have %d", need, len(src)-pos)
	}
	var window uint64
	if !single {
		wd := src[pos]
		pos++
		exp, mant := uint64(wd>>3), uint64(wd&7)
		base := uint64(1) << (10 + exp)
		window = base + base/8*mant
	}
	var dictID uint32
	switch didSize {
	case 1:
		dictID = uint32(src[pos])
	case 2:
		dictID = uint32(binary.LittleEndian.Uint16(src[pos:]))
	case 4:
		dictID = binary.LittleEndian.Uint32(src[pos:])
	}
	if dictID != 0 {
		return 0, fmt.Errorf("unzstd: byte %d: frame needs dictionary ID %d: %w", pos, dictID,
			ErrUnsupported)
	}
	pos += didSize
	fcs := uint64(0)
	hasFCS := fcsSize > 0
	switch fcsSize {
	case 1:
		fcs = uint64(src[pos])
	case 2:
		fcs = uint64(binary.LittleEndian.Uint16(src[pos:])) + 256
	case 4:
		fcs = uint64(binary.LittleEndian.Uint32(src[pos:]))
	case 8:
		fcs = binary.LittleEndian.Uint64(src[pos:])
	}
	pos += fcsSize
	if single {
		window = fcs
	}
	if d.census != nil {
		d.note(fmt.Sprintf("frame/fcs%d", fcsSize))
		d.note(fmt.Sprintf("frame/did%d", didSize))
		d.note(fmt.Sprintf("frame/single=%v", single))
		d.note(fmt.Sprintf("frame/checksum=%v", hasChecksum))
	}

	room := uint64(d.limit - len(d.out))
	if hasFCS {
		if fcs > room {
			return 0, fmt.Errorf("unzstd: byte %d: frame content size %d exceeds the %d bytes left "+
				"of the limit: %w", start, fcs, room, ErrTooLarge)
		}
		// Every block has a 3-byte header and decodes to at most maxBlockSize bytes, so the
		// rest of the input bounds the content size; refusing more keeps a tiny hostile
		// input from making us allocate up to the limit.
		if most := uint64(len(src)-pos) / 3 * maxBlockSize; fcs > most {
			return 0, corruptf(start, "frame content size %d cannot come from the %d bytes left",
				fcs, len(src)-pos)
		}
		d.reserve(int(fcs))
	}

	d.window = window
	d.blockMax = maxBlockSize
	if window < maxBlockSize {
		d.blockMax = int(window)
	}
	d.frameStart = len(d.out)
	d.frameEnd = -1
	if hasFCS {
		d.frameEnd = d.frameStart + int(fcs)
	}
	d.rep = [3]int{1, 4, 8}
	d.haveHuff = false
	d.haveSeq = [3]bool{}
	if hasChecksum {
		d.hash.reset()
	}

	for {
		if len(src)-pos < 3 {
			return 0, corruptf(pos, "block header truncated")
		}
		bh := uint32(src[pos]) | uint32(src[pos+1])<<8 | uint32(src[pos+2])<<16
		hdr := pos
		pos += 3
		last := bh&1 != 0
		btype := (bh >> 1) & 3
		size := int(bh >> 3)
		if size > d.blockMax {
			if btype == 2 && single && size <= maxBlockSize && uint64(size) > window {
				return 0, strictf(hdr, "block size %d exceeds the single-segment window %d",
					size, window)
			}
			return 0, corruptf(hdr, "block size %d exceeds the maximum %d", size, d.blockMax)
		}
		outStart := len(d.out)
		switch btype {
		case 0: // Raw_Block
			d.note("block/raw")
			if len(src)-pos < size {
				return 0, corruptf(hdr, "raw block of %d bytes truncated to %d", size, len(src)-pos)
			}
			if n := len(d.out); size > d.blockEnd(n)-n {
				return 0, d.overrun(hdr, n, n+size)
			}
			d.reserve(size)
			d.out = append(d.out, src[pos:pos+size]...)
			pos += size
		case 1: // RLE_Block
			d.note("block/rle")
			if pos >= len(src) {
				return 0, corruptf(hdr, "RLE block truncated")
			}
			n := len(d.out)
			if size > d.blockEnd(n)-n {
				return 0, d.overrun(hdr, n, n+size)
			}
			d.reserve(size)
			d.out = d.out[:n+size]
			fill(d.out[n:], src[pos])
			pos++
		case 2: // Compressed_Block
			d.note("block/compressed")
			if len(src)-pos < size {
				return 0, corruptf(hdr, "compressed block of %d bytes truncated to %d", size,
					len(src)-pos)
			}
			if err := d.compressedBlock(pos, pos+size); err != nil {
				return 0, err
			}
			pos += size
		default:
			return 0, corruptf(hdr, "reserved block type 3")
		}
		if hasFCS && uint64(len(d.out)-d.frameStart) > fcs {
			return 0, corruptf(hdr, "frame decodes to more than its content size %d", fcs)
		}
		if hasChecksum {
			d.hash.write(d.out[outStart:])
		}
		if last {
			break
		}
	}
	if hasFCS && uint64(len(d.out)-d.frameStart) != fcs {
		return 0, corruptf(start, "frame decoded to %d bytes, its header says %d",
			len(d.out)-d.frameStart, fcs)
	}
	if hasChecksum {
		if len(src)-pos < 4 {
			return 0, corruptf(pos, "content checksum truncated")
		}
		want := binary.LittleEndian.Uint32(src[pos:])
		if got := uint32(d.hash.sum()); got != want {
			return 0, corruptf(pos, "content checksum %#08x, want %#08x", got, want)
		}
		pos += 4
	}
	return pos, nil
}

func (d *decoder) tooLarge(off, more int) error {
	return fmt.Errorf("unzstd: byte %d: block of %d bytes after %d decoded exceeds the limit %d: %w",
		off, more, len(d.out), d.limit, ErrTooLarge)
}

// reserve makes room for n more output bytes plus the slack that wild copies may write past
// them, growing the output as append would.
func (d *decoder) reserve(n int) {
	need := len(d.out) + n + wildCopySlack
	if need <= cap(d.out) {
		return
	}
	c := 2 * cap(d.out)
	if c < need {
		c = need
	}
	if most := d.limit + wildCopySlack; c > most && need <= most {
		c = most
	}
	out := make([]byte, len(d.out), c)
	copy(out, d.out)
	d.out = out
}

// fill sets every byte of b to v.
func fill(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}
