package ungzip

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by Decode wraps exactly one of them, with a message
// that names what failed and the byte offset in the input where it was found.
var (
	// ErrCorrupt reports input that is not valid gzip data: a bad magic number, reserved flag
	// bits, an invalid DEFLATE block, a checksum or size mismatch, truncation, or trailing
	// bytes that are neither a member nor zero padding.
	ErrCorrupt = errors.New("corrupt gzip data")
	// ErrUnsupported reports a member whose compression method is not DEFLATE (CM != 8).
	ErrUnsupported = errors.New("unsupported gzip feature")
	// ErrTooLarge reports that the decompressed output would exceed the caller's limit.
	ErrTooLarge = errors.New("gzip output exceeds limit")
)

// errStrict is wrapped, beside ErrCorrupt, by the checks where this decoder follows zlib and
// RFC 1952 more strictly than compress/gzip does, so the differential fuzz test can tell an
// intended disagreement from a bug.
var errStrict = errors.New("stricter than compress/gzip")

func corruptf(off int, format string, args ...any) error {
	return fmt.Errorf("ungzip: byte %d: %s: %w", off, fmt.Sprintf(format, args...), ErrCorrupt)
}

func strictf(off int, format string, args ...any) error {
	return fmt.Errorf("ungzip: byte %d: %s: %w (%w)", off, fmt.Sprintf(format, args...),
		ErrCorrupt, errStrict)
}

func tooLargef(off int, format string, args ...any) error {
	return fmt.Errorf("ungzip: byte %d: %s: %w", off, fmt.Sprintf(format, args...), ErrTooLarge)
}

// gzip header flags (RFC 1952, 2.3.1).
const (
	flagText     = 1 << 0
	flagHCRC     = 1 << 1
	flagExtra    = 1 << 2
	flagName     = 1 << 3
	flagComment  = 1 << 4
	flagReserved = 0xE0
)

// maxRatio bounds the output of n bytes of DEFLATE data: a length-258 match costs at least 2
// bits, so 1032 output bytes per input byte, and a little more for the last block.
const maxRatio = 1032

// Decode decompresses the whole gzip data src (one or more concatenated members) and returns
// the uncompressed bytes. It fails with an error wrapping ErrTooLarge when the output would
// exceed limit bytes.
//
// Errors wrap ErrCorrupt for invalid or truncated input and ErrUnsupported for a compression
// method other than DEFLATE; each names the failing structure and its byte offset in src.
// Zero bytes after the last member are ignored, as gzip(1) does; any other trailing byte is
// an error (see the package documentation). A negative limit is treated as zero.
func Decode(src []byte, limit int) ([]byte, error) {
	limit = max(limit, 0)
	if len(src) == 0 {
		return nil, corruptf(0, "empty input, no gzip member")
	}
	f := inflaterPool.Get().(*inflater)
	defer func() {
		f.src, f.out = nil, nil
		inflaterPool.Put(f)
	}()
	f.src, f.limit, f.n = src, limit, 0

	// ISIZE of the last member is the whole output for the usual single member: allocate it
	// once when it is plausible, else start from a guess and grow.
	size := 4 * uint64(len(src))
	if len(src) >= 18 {
		isize := uint64(binary.LittleEndian.Uint32(src[len(src)-4:]))
		if isize <= uint64(len(src))*maxRatio {
			size = isize
		}
	}
	f.out = make([]byte, min(size, uint64(limit)))

	pos := 0
	for {
		start := pos
		var err error
		if pos, err = header(src, pos); err != nil {
			return nil, err
		}
		f.base = f.n
		if pos, err = f.inflate(pos); err != nil {
			return nil, err
		}
		if len(src)-pos < 8 {
			return nil, corruptf(pos, "truncated gzip trailer (%d of 8 bytes)", len(src)-pos)
		}
		out := f.out[f.base:f.n]
		if want, got := binary.LittleEndian.Uint32(src[pos:]), crc32Update(0, out); got != want {
			return nil, corruptf(pos, "CRC-32 %#08x of the member at byte %d, its trailer says "+
				"%#08x", got, start, want)
		}
		if want := binary.LittleEndian.Uint32(src[pos+4:]); uint32(len(out)) != want {
			return nil, corruptf(pos+4, "member at byte %d decodes to %d bytes, its trailer "+
				"says %d (mod 2^32)", start, len(out), want)
		}
		pos += 8
		if pos == len(src) {
			break
		}
		// Like gzip(1), ignore zero padding to the end of the input (tape blocks, dd).
		member := src[pos] == 0x1F && (len(src)-pos == 1 || src[pos+1] == 0x8B)
		if !member {
			for i, b := range src[pos:] {
				if b != 0 {
					return nil, corruptf(pos+i, "trailing garbage after the member at byte %d",
						start)
				}
			}
			break
		}
	}
	return f.out[:f.n:f.n], nil
}

// header checks the member header at src[pos:] and returns where its DEFLATE data start.
func header(src []byte, pos int) (int, error) {
	start := pos
	if len(src)-pos < 10 {
		return 0, corruptf(len(src), "truncated gzip header")
	}
	if src[pos] != 0x1F || src[pos+1] != 0x8B {
		return 0, corruptf(pos, "bad gzip magic number %#02x %#02x", src[pos], src[pos+1])
	}
	if cm := src[pos+2]; cm != 8 {
		return 0, fmt.Errorf("ungzip: byte %d: compression method %d, only 8 (deflate): %w",
			pos+2, cm, ErrUnsupported)
	}
	flg := src[pos+3]
	if flg&flagReserved != 0 {
		// RFC 1952 and gzip(1) refuse them; compress/gzip ignores them.
		return 0, strictf(pos+3, "reserved gzip header flags %#02x", flg&flagReserved)
	}
	pos += 10
	if flg&flagExtra != 0 {
		if len(src)-pos < 2 {
			return 0, corruptf(len(src), "truncated gzip extra field length")
		}
		n := int(binary.LittleEndian.Uint16(src[pos:]))
		if len(src)-pos-2 < n {
			return 0, corruptf(len(src), "truncated gzip extra field (%d bytes)", n)
		}
		pos += 2 + n
	}
	for _, field := range []struct {
		flag byte
		name string
	}{{flagName, "file name"}, {flagComment, "comment"}} {
		if flg&field.flag == 0 {
			continue
		}
		i := pos
		for i < len(src) && src[i] != 0 {
			i++
		}
		if i == len(src) {
			return 0, corruptf(len(src), "truncated gzip %s (no terminating zero)", field.name)
		}
		pos = i + 1
	}
	if flg&flagHCRC != 0 {
		if len(src)-pos < 2 {
			return 0, corruptf(len(src), "truncated gzip header CRC")
		}
		want := binary.LittleEndian.Uint16(src[pos:])
		if got := uint16(crc32Update(0, src[start:pos])); got != want {
			return 0, corruptf(pos, "gzip header CRC16 %#04x, the header says %#04x", got, want)
		}
		pos += 2
	}
	return pos, nil
}
