package blockid

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Device is one block device found in sysfs, with what its contents say about it.
type Device struct {
	// Name is the kernel's name, e.g. "vda1" or "nvme0n1p2".
	Name string
	// Path is the device node, DevRoot joined with the uevent DEVNAME (normally /dev/Name).
	Path string
	// Major and Minor are the device number from sysfs "dev".
	Major, Minor uint32
	// Size is the size in bytes (sysfs "size" counts 512-byte sectors).
	Size uint64
	// Partition is true for a partition; PartNumber is its number and Parent the disk's Name.
	Partition  bool
	PartNumber int
	Parent     string
	// PartUUID and PartLabel come from the parent disk's partition table.
	PartUUID, PartLabel string
	// FS is the probed filesystem, nil when none was recognised or the device could not be
	// read (ProbeErr says why).
	FS       *Info
	ProbeErr error
}

// String describes the device in one line for messages: "/dev/vda1 ext4 LABEL=root UUID=...".
func (d *Device) String() string {
	var b strings.Builder
	b.WriteString(d.Path)
	if d.FS != nil {
		fmt.Fprintf(&b, " %s", d.FS.Type)
		if d.FS.Label != "" {
			fmt.Fprintf(&b, " LABEL=%q", d.FS.Label)
		}
		if d.FS.UUID != "" {
			fmt.Fprintf(&b, " UUID=%s", d.FS.UUID)
		}
	} else if d.ProbeErr != nil && !errors.Is(d.ProbeErr, ErrUnknown) {
		fmt.Fprintf(&b, " (unreadable: %v)", d.ProbeErr)
	}
	if d.PartUUID != "" {
		fmt.Fprintf(&b, " PARTUUID=%s", d.PartUUID)
	}
	if d.PartLabel != "" {
		fmt.Fprintf(&b, " PARTLABEL=%q", d.PartLabel)
	}
	return b.String()
}

// Scanner finds block devices. SysRoot is the sysfs mount (normally /sys) and DevRoot the
// directory holding device nodes (normally /dev); tests point them at fixtures.
type Scanner struct {
	SysRoot string
	DevRoot string
	// Open opens a device node for probing; nil means os.Open.
	Open func(path string) (ReaderAtCloser, error)
	// SkipProbe lists name prefixes that are never opened (reading a ram or loop device that
	// is not set up, or a CD-ROM drive without a medium, only costs time).
	SkipProbe []string
}

// ReaderAtCloser is what Scanner.Open returns.
type ReaderAtCloser interface {
	ReadAt(p []byte, off int64) (int, error)
	Close() error
}

// DefaultSkipProbe are device names an initramfs never finds a root on.
var DefaultSkipProbe = []string{"ram", "loop", "sr", "fd", "zram"}

// Scan lists the block devices under SysRoot/class/block, sorted by name, and probes each
// one's filesystem and its disk's partition table. A device that cannot be read keeps its
// sysfs facts and records why in ProbeErr; only an unreadable class/block fails the scan.
func (s *Scanner) Scan() ([]Device, error) {
	classDir := filepath.Join(s.SysRoot, "class", "block")
	ents, err := os.ReadDir(classDir)
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	open := s.Open
	if open == nil {
		open = func(p string) (ReaderAtCloser, error) { return os.Open(p) }
	}
	skip := s.SkipProbe
	if skip == nil {
		skip = DefaultSkipProbe
	}
	var devs []Device
	for _, e := range ents {
		d, err := s.readSysfs(classDir, e.Name())
		if err != nil {
			// A device that vanished between ReadDir and here is not an error.
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Name < devs[j].Name })

	parts := map[string][]Partition{} // disk name -> its table
	for i := range devs {
		d := &devs[i]
		if hasAnyPrefix(d.Name, skip) || d.Size == 0 {
			continue
		}
		d.FS, d.ProbeErr = probePath(open, d.Path)
		if !d.Partition {
			continue
		}
		tbl, ok := parts[d.Parent]
		if !ok {
			tbl = s.readTable(open, d.Parent, devs)
			parts[d.Parent] = tbl
		}
		for _, p := range tbl {
			if p.Number == d.PartNumber {
				d.PartUUID, d.PartLabel = p.UUID, p.Label
			}
		}
	}
	return devs, nil
}

func hasAnyPrefix(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func probePath(open func(string) (ReaderAtCloser, error), path string) (*Info, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Probe(f)
}

// readTable reads the partition table of disk; errors leave the partitions without UUIDs.
func (s *Scanner) readTable(open func(string) (ReaderAtCloser, error), disk string, devs []Device) []Partition {
	path := filepath.Join(s.DevRoot, disk)
	for _, d := range devs {
		if d.Name == disk {
			path = d.Path
		}
	}
	f, err := open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	sectorSize := 512
	if v, err := readTrim(filepath.Join(s.SysRoot, "class", "block", disk, "queue", "logical_block_size")); err == nil {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			sectorSize = n
		}
	}
	tbl, _ := Partitions(f, sectorSize)
	return tbl
}

func (s *Scanner) readSysfs(classDir, name string) (Device, error) {
	d := Device{Name: name, Path: filepath.Join(s.DevRoot, name)}
	dir := filepath.Join(classDir, name)
	dev, err := readTrim(filepath.Join(dir, "dev"))
	if err != nil {
		return d, fmt.Errorf("block device %s: %w", name, err)
	}
	maj, min, ok := strings.Cut(dev, ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return d, fmt.Errorf("block device %s: sysfs dev %q is not MAJOR:MINOR", name, dev)
	}
	d.Major, d.Minor = uint32(ma), uint32(mi)
	if v, err := readTrim(filepath.Join(dir, "size")); err == nil {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			d.Size = n * 512
		}
	}
	if v, err := readTrim(filepath.Join(dir, "partition")); err == nil {
		if n, err := strconv.Atoi(v); err == nil {
			d.Partition, d.PartNumber = true, n
			// class/block/vda1 -> ../../devices/.../block/vda/vda1: the parent dir is the disk.
			if target, err := filepath.EvalSymlinks(dir); err == nil {
				d.Parent = filepath.Base(filepath.Dir(target))
			}
		}
	}
	if ue, err := os.ReadFile(filepath.Join(dir, "uevent")); err == nil {
		for _, line := range strings.Split(string(ue), "\n") {
			if v, ok := strings.CutPrefix(line, "DEVNAME="); ok && v != "" {
				d.Path = filepath.Join(s.DevRoot, v)
			}
		}
	}
	return d, nil
}

func readTrim(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
