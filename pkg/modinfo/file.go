package modinfo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kmodboot/kmodboot/pkg/ungzip"
	"github.com/kmodboot/kmodboot/pkg/unxz"
	"github.com/kmodboot/kmodboot/pkg/unzstd"
)

// Compression kinds returned by Compression.
const (
	None = ""
	XZ   = "xz"
	Zstd = "zstd"
	Gzip = "gzip"
)

// MaxModuleSize bounds the uncompressed size of a module. The largest modules of a distribution
// kernel are tens of megabytes; anything that inflates past this is treated as corrupt (a
// decompression bomb must not exhaust an initramfs's memory).
const MaxModuleSize = 512 << 20

// ErrDecompress is wrapped by errors about compressed modules whose data cannot be decompressed.
var ErrDecompress = errors.New("cannot decompress module")

// moduleExts maps each recognized module file suffix to its compression, longest first.
var moduleExts = []struct {
	ext  string
	kind string
}{
	{".ko.xz", XZ},
	{".ko.zst", Zstd},
	{".ko.gz", Gzip},
	{".ko", None},
}

// IsModuleFile reports whether name ends in .ko, .ko.xz, .ko.zst or .ko.gz.
func IsModuleFile(name string) bool {
	_, ok := splitExt(name)
	return ok
}

// Compression returns the compression of a module file judged by its name: "" for .ko, "xz",
// "zstd" or "gzip". It returns "" for any other name too; use IsModuleFile to tell them apart.
func Compression(path string) string {
	kind, _ := splitExt(path)
	return kind
}

func splitExt(name string) (kind string, ok bool) {
	for _, e := range moduleExts {
		if len(name) > len(e.ext) && strings.HasSuffix(name, e.ext) {
			return e.kind, true
		}
	}
	return None, false
}

// ModuleName returns the module name a file name stands for, as kmod derives it: the base
// name without its .ko[.xz|.zst|.gz] suffix, with '-' normalized to '_'
// ("kernel/drivers/input/gameport/emu10k1-gp.ko.xz" is "emu10k1_gp").
func ModuleName(path string) string {
	base := filepath.Base(path)
	for _, e := range moduleExts {
		if len(base) > len(e.ext) && strings.HasSuffix(base, e.ext) {
			base = base[:len(base)-len(e.ext)]
			break
		}
	}
	return NormalizeName(base)
}

// ReadFile returns the .modinfo of the module file at path (.ko, .ko.xz, .ko.zst or .ko.gz).
// For a plain .ko only the headers and .modinfo are read. If the module has no name= field,
// Name is derived from the file name. Errors name the file.
func ReadFile(path string) (*Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("modinfo: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("modinfo: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("modinfo: %s is not a regular file (mode %v)", path, st.Mode())
	}
	var info *Info
	if kind := Compression(path); kind == None {
		info, err = ParseReaderAt(f, st.Size())
	} else {
		var data []byte
		data, err = readAllSized(f, st.Size())
		if err == nil {
			data, err = decompress(data, kind)
		}
		if err == nil {
			info, err = Parse(data)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("modinfo: %s: %w", path, err)
	}
	if info.Name == "" {
		info.Name = ModuleName(path)
	}
	info.Size = st.Size()
	return info, nil
}

// Decompress returns the uncompressed ELF image of the module file at path. The format is
// recognized by its magic bytes (xz, zstd, gzip or a plain ELF, returned as read), so a
// misnamed file still works; data that is none of these is an error naming the file.
func Decompress(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("decompress module: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("decompress module: %w", err)
	}
	data, err := readAllSized(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("decompress module %s: %w", path, err)
	}
	out, err := DecompressBytes(data)
	if err != nil {
		return nil, fmt.Errorf("decompress module %s: %w", path, err)
	}
	return out, nil
}

// DecompressBytes returns the uncompressed form of a module image: data itself when it is
// already ELF, else the result of decompressing xz, zstd or gzip data (recognized by magic).
func DecompressBytes(data []byte) ([]byte, error) {
	kind, ok := Sniff(data)
	if !ok {
		n := min(len(data), 6)
		return nil, fmt.Errorf("%w: data starts with % x, which is neither ELF nor xz, zstd or gzip",
			ErrDecompress, data[:n])
	}
	if kind == None {
		return data, nil
	}
	return decompress(data, kind)
}

// Sniff recognizes a module image by its magic bytes: kind is "" for ELF, or "xz", "zstd",
// "gzip"; ok is false for anything else.
func Sniff(data []byte) (kind string, ok bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		return None, true
	case bytes.HasPrefix(data, []byte("\xfd7zXZ\x00")):
		return XZ, true
	case bytes.HasPrefix(data, []byte("\x28\xb5\x2f\xfd")):
		return Zstd, true
	case bytes.HasPrefix(data, []byte("\x1f\x8b")):
		return Gzip, true
	}
	return None, false
}

// decompress inflates data of the given kind, bounded by MaxModuleSize. The decoders are our
// own (pkg/unxz, pkg/unzstd, pkg/ungzip) because they do no work at program start: the
// libraries they replace (ulikunitz/xz, klauspost/compress, compress/gzip) built CRC and
// Huffman tables and pulled in crypto packages at init, which cost every modload process
// about half a millisecond whether it decompressed anything or not.
func decompress(data []byte, kind string) ([]byte, error) {
	var out []byte
	var err error
	switch kind {
	case XZ:
		out, err = unxz.Decode(data, MaxModuleSize)
	case Zstd:
		out, err = unzstd.Decode(data, MaxModuleSize)
	case Gzip:
		out, err = ungzip.Decode(data, MaxModuleSize)
	default:
		return nil, fmt.Errorf("%w: unknown compression %q", ErrDecompress, kind)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDecompress, kind, err)
	}
	return out, nil
}

// readAllSized reads all of f, whose size is size, in one buffer.
func readAllSized(f *os.File, size int64) ([]byte, error) {
	if size < 0 || size > MaxModuleSize {
		return nil, fmt.Errorf("file size %d is out of range for a module", size)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, fmt.Errorf("read %d bytes: %w", size, err)
	}
	return buf, nil
}
