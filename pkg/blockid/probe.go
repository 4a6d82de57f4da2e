package blockid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// ErrUnknown is returned by Probe when no known filesystem signature is found.
var ErrUnknown = errors.New("no known filesystem signature")

// Info is what a filesystem superblock says about itself.
type Info struct {
	// Type is the name mount(2) knows the filesystem by: ext2, ext3, ext4, xfs, btrfs, vfat,
	// squashfs.
	Type string
	// UUID is the filesystem UUID in blkid's notation: lower-case 8-4-4-4-12 for ext*, XFS and
	// Btrfs, upper-case XXXX-XXXX for FAT. Empty when the filesystem has none.
	UUID string
	// Label is the volume label with trailing padding removed. Empty when unset.
	Label string
}

// prober recognises one filesystem type; it returns (nil, nil) when the signature is absent.
type prober func(r io.ReaderAt) (*Info, error)

// probers are tried in order. FAT comes last because its signature is the weakest.
var probers = []prober{probeExt, probeXFS, probeBtrfs, probeSquashfs, probeFAT}

// Probe reads the superblock at the start of r and returns the filesystem's type, UUID and
// label. It returns an error wrapping ErrUnknown when no known signature is present, and the
// read error when r fails.
func Probe(r io.ReaderAt) (*Info, error) {
	for _, p := range probers {
		info, err := p(r)
		if err != nil {
			return nil, err
		}
		if info != nil {
			return info, nil
		}
	}
	return nil, ErrUnknown
}

// readAt reads exactly n bytes at off; a short read at the end of a small device is reported
// as (nil, nil) so probers treat it as "signature absent".
func readAt(r io.ReaderAt, off int64, n int) ([]byte, error) {
	b := make([]byte, n)
	got, err := r.ReadAt(b, off)
	if got == n {
		return b, nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, nil
	}
	return nil, fmt.Errorf("read %d bytes at offset %d: %w", n, off, err)
}

// uuidString formats 16 bytes in the big-endian 8-4-4-4-12 notation blkid uses for ext*, XFS
// and Btrfs. An all-zero UUID is reported as "".
func uuidString(b []byte) string {
	if bytes.Equal(b, make([]byte, 16)) {
		return ""
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// guidString formats a GPT GUID: its first three fields are stored little-endian.
func guidString(b []byte) string {
	if bytes.Equal(b, make([]byte, 16)) {
		return ""
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

// cString returns b up to its first NUL, with trailing spaces removed.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimRight(string(b), " ")
}

// ext2/3/4 feature bits that decide the type name, as blkid decides it.
const (
	extCompatHasJournal     = 0x0004
	extIncompatJournalDev   = 0x0008
	extIncompatExt3Allowed  = 0x0002 | 0x0004 | 0x0010 // filetype, recover, meta_bg
	extROCompatExt3Allowed  = 0x0001 | 0x0002 | 0x0004 // sparse_super, large_file, btree_dir
	extSuperblockOffset     = 1024
	extMagic                = 0xEF53
	extMagicOffset          = 56
	extCompatOffset         = 92
	extIncompatOffset       = 96
	extROCompatOffset       = 100
	extUUIDOffset           = 104
	extLabelOffset          = 120
	extSuperblockReadLength = 256
)

func probeExt(r io.ReaderAt) (*Info, error) {
	sb, err := readAt(r, extSuperblockOffset, extSuperblockReadLength)
	if sb == nil || err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint16(sb[extMagicOffset:]) != extMagic {
		return nil, nil
	}
	compat := binary.LittleEndian.Uint32(sb[extCompatOffset:])
	incompat := binary.LittleEndian.Uint32(sb[extIncompatOffset:])
	roCompat := binary.LittleEndian.Uint32(sb[extROCompatOffset:])
	info := &Info{
		UUID:  uuidString(sb[extUUIDOffset : extUUIDOffset+16]),
		Label: cString(sb[extLabelOffset : extLabelOffset+16]),
	}
	switch {
	case incompat&extIncompatJournalDev != 0:
		info.Type = "jbd"
	case incompat&^uint32(extIncompatExt3Allowed) != 0 || roCompat&^uint32(extROCompatExt3Allowed) != 0:
		info.Type = "ext4"
	case compat&extCompatHasJournal != 0:
		info.Type = "ext3"
	default:
		info.Type = "ext2"
	}
	return info, nil
}

func probeXFS(r io.ReaderAt) (*Info, error) {
	sb, err := readAt(r, 0, 120)
	if sb == nil || err != nil {
		return nil, err
	}
	if string(sb[0:4]) != "XFSB" {
		return nil, nil
	}
	return &Info{Type: "xfs", UUID: uuidString(sb[32:48]), Label: cString(sb[108:120])}, nil
}

func probeBtrfs(r io.ReaderAt) (*Info, error) {
	const off = 64 << 10
	sb, err := readAt(r, off, 299+256)
	if sb == nil || err != nil {
		return nil, err
	}
	if string(sb[64:72]) != "_BHRfS_M" {
		return nil, nil
	}
	return &Info{Type: "btrfs", UUID: uuidString(sb[32:48]), Label: cString(sb[299 : 299+256])}, nil
}

func probeSquashfs(r io.ReaderAt) (*Info, error) {
	sb, err := readAt(r, 0, 4)
	if sb == nil || err != nil {
		return nil, err
	}
	if string(sb) != "hsqs" {
		return nil, nil
	}
	return &Info{Type: "squashfs"}, nil
}

func probeFAT(r io.ReaderAt) (*Info, error) {
	bs, err := readAt(r, 0, 512)
	if bs == nil || err != nil {
		return nil, err
	}
	if bs[510] != 0x55 || bs[511] != 0xAA {
		return nil, nil
	}
	// A partition table's boot sector also ends in 55 AA: require a sane BIOS parameter block.
	bytesPerSector := binary.LittleEndian.Uint16(bs[11:])
	switch bytesPerSector {
	case 512, 1024, 2048, 4096:
	default:
		return nil, nil
	}
	if bs[13] == 0 || bs[16] == 0 { // sectors per cluster, number of FATs
		return nil, nil
	}
	var idOff, labelOff int
	switch {
	case string(bs[82:87]) == "FAT32":
		idOff, labelOff = 67, 71
	case string(bs[54:59]) == "FAT12" || string(bs[54:59]) == "FAT16" || string(bs[54:57]) == "FAT":
		idOff, labelOff = 39, 43
	default:
		return nil, nil
	}
	id := binary.LittleEndian.Uint32(bs[idOff:])
	info := &Info{Type: "vfat", Label: cString(bs[labelOff : labelOff+11])}
	if id != 0 {
		info.UUID = fmt.Sprintf("%04X-%04X", id>>16, id&0xffff)
	}
	if info.Label == "NO NAME" {
		info.Label = ""
	}
	return info, nil
}

// Partition is one entry of a partition table.
type Partition struct {
	// Number is the partition number as the kernel counts it (vda1 is 1).
	Number int
	// UUID is the PARTUUID: the GPT unique partition GUID, or for MBR the disk signature and
	// partition number as SSSSSSSS-NN.
	UUID string
	// Label is the GPT partition name (PARTLABEL); MBR partitions have none.
	Label string
}

// Partitions reads the partition table of a whole disk: GPT when the protective MBR and the
// "EFI PART" header say so, otherwise the four primary MBR entries. sectorSize is the disk's
// logical block size (512 when unknown). A disk without a partition table yields no entries
// and no error.
func Partitions(r io.ReaderAt, sectorSize int) ([]Partition, error) {
	if sectorSize <= 0 {
		sectorSize = 512
	}
	mbr, err := readAt(r, 0, 512)
	if mbr == nil || err != nil {
		return nil, err
	}
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		return nil, nil
	}
	for i := 0; i < 4; i++ {
		if mbr[446+16*i+4] == 0xEE {
			return gptPartitions(r, sectorSize)
		}
	}
	sig := binary.LittleEndian.Uint32(mbr[440:])
	var parts []Partition
	for i := 0; i < 4; i++ {
		e := mbr[446+16*i : 446+16*(i+1)]
		if e[4] == 0 {
			continue
		}
		parts = append(parts, Partition{Number: i + 1, UUID: fmt.Sprintf("%08x-%02x", sig, i+1)})
	}
	return parts, nil
}

// gptMaxEntries bounds the partition entry array so a corrupt header cannot make us allocate
// without limit; the UEFI default is 128 entries.
const gptMaxEntries = 4096

func gptPartitions(r io.ReaderAt, sectorSize int) ([]Partition, error) {
	hdr, err := readAt(r, int64(sectorSize), 92)
	if err != nil {
		return nil, fmt.Errorf("GPT header: %w", err)
	}
	if hdr == nil || string(hdr[0:8]) != "EFI PART" {
		return nil, fmt.Errorf("protective MBR without a GPT header at LBA 1")
	}
	entriesLBA := binary.LittleEndian.Uint64(hdr[72:])
	n := binary.LittleEndian.Uint32(hdr[80:])
	size := binary.LittleEndian.Uint32(hdr[84:])
	if n > gptMaxEntries || size < 128 || size > 4096 || entriesLBA == 0 || entriesLBA > 1<<40 {
		return nil, fmt.Errorf("GPT header: implausible entry table (%d entries of %d bytes at LBA %d)", n, size, entriesLBA)
	}
	tbl, err := readAt(r, int64(entriesLBA)*int64(sectorSize), int(n)*int(size))
	if err != nil {
		return nil, fmt.Errorf("GPT entries: %w", err)
	}
	if tbl == nil {
		return nil, fmt.Errorf("GPT entries: table at LBA %d runs past the end of the disk", entriesLBA)
	}
	var parts []Partition
	for i := 0; i < int(n); i++ {
		e := tbl[i*int(size) : (i+1)*int(size)]
		if bytes.Equal(e[0:16], make([]byte, 16)) { // unused entry: zero type GUID
			continue
		}
		name := make([]uint16, 36)
		for j := range name {
			name[j] = binary.LittleEndian.Uint16(e[56+2*j:])
		}
		end := len(name)
		for j, c := range name {
			if c == 0 {
				end = j
				break
			}
		}
		parts = append(parts, Partition{
			Number: i + 1,
			UUID:   guidString(e[16:32]),
			Label:  string(utf16.Decode(name[:end])),
		})
	}
	return parts, nil
}
