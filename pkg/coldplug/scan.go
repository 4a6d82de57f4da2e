package coldplug

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Device is one device with a modalias.
type Device struct {
	// Path is the device's sysfs path without the /sys prefix, as uevents spell it (DEVPATH),
	// e.g. "/devices/pci0000:00/0000:00:03.0".
	Path string `json:"path"`
	// Modalias is the content of its modalias file (or the MODALIAS of its uevent).
	Modalias string `json:"modalias"`
	// Subsystem is the name its subsystem link points to ("pci", "virtio", "scsi"), or "".
	Subsystem string `json:"subsystem,omitempty"`
	// Driver is the driver bound to it, read when the report is made, or "" when none is.
	Driver string `json:"driver,omitempty"`
	// Source says how coldplug learnt of it: "scan" or "uevent".
	Source string `json:"source"`
	// Seen is when coldplug learnt of it, since the start of the run.
	Seen time.Duration `json:"seen_ns"`
}

// ScanResult is what one walk of <root>/sys/devices found.
type ScanResult struct {
	// Devices lists every device with a non-empty modalias file, sorted by path.
	Devices []Device
	// Dirs counts the directories walked.
	Dirs int
	// Errors counts entries that could not be read (and were skipped).
	Errors int
	// Took is how long the walk took.
	Took time.Duration
}

// skipDirs are attribute groups that every device has and that never contain devices; not
// descending into them makes a walk of a large machine's sysfs markedly cheaper.
var skipDirs = map[string]bool{"power": true}

// Scan walks <root>/sys/devices and returns every device that has a modalias file. Symbolic
// links are never followed: every device appears exactly once under /sys/devices, and the
// links sysfs is full of (subsystem, driver, /sys/bus/*/devices, /sys/class) point back into
// the tree and would make a following walk loop. Unreadable entries are skipped and counted;
// only a missing or unreadable <root>/sys/devices is an error. root "" means "/".
func Scan(root string) (*ScanResult, error) {
	start := time.Now()
	sys := filepath.Join(rootDir(root), "sys")
	top := filepath.Join(sys, "devices")
	if _, err := os.ReadDir(top); err != nil {
		return nil, fmt.Errorf("scan devices: %w (is sysfs mounted on %s?)", err, sys)
	}
	res := &ScanResult{}
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			res.Errors++
			if d != nil && d.IsDir() && p != top {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if skipDirs[d.Name()] {
				return fs.SkipDir
			}
			res.Dirs++
			return nil
		}
		if d.Name() != "modalias" || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			res.Errors++
			return nil
		}
		alias := strings.TrimRight(string(b), "\n\x00")
		if alias == "" {
			return nil
		}
		dir := filepath.Dir(p)
		res.Devices = append(res.Devices, Device{
			Path:      filepath.ToSlash(strings.TrimPrefix(dir, sys)),
			Modalias:  alias,
			Subsystem: linkName(dir, "subsystem"),
			Source:    "scan",
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", top, err)
	}
	sort.Slice(res.Devices, func(i, j int) bool { return res.Devices[i].Path < res.Devices[j].Path })
	res.Took = time.Since(start)
	return res, nil
}

// linkName returns the last element of the symbolic link dir/name, or "" when there is none.
func linkName(dir, name string) string {
	t, err := os.Readlink(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

// driverOf returns the driver bound to the device at sysfs path devPath under root, or "".
func driverOf(root, devPath string) string {
	return linkName(filepath.Join(rootDir(root), "sys", filepath.FromSlash(devPath)), "driver")
}

func rootDir(root string) string {
	if root == "" {
		return "/"
	}
	return root
}
