package coldplug

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kmodboot/kmodboot/internal/sysread"
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

	sys   string       // <root>/sys, trimmed from device directories
	found func(Device) // ScanFunc's callback, or nil
}

// skipDirs are directories that devices have but that never contain devices: attribute groups
// and kobjects (power management, MSI vectors, block queues and their multiqueue contexts,
// holders and slaves links, network queues and statistics, CPU caches and topology). Not
// descending into them makes a walk of a large machine's sysfs markedly cheaper; every
// device directory has a "power" group, for one.
var skipDirs = map[string]bool{
	"power": true, "msi_irqs": true, "queue": true, "mq": true, "holders": true, "slaves": true,
	"integrity": true, "trace": true, "queues": true, "statistics": true, "cache": true,
	"topology": true, "cpuidle": true, "cpufreq": true,
}

// Scan walks <root>/sys/devices and returns every device that has a modalias file. Symbolic
// links are never followed: every device appears exactly once under /sys/devices, and the
// links sysfs is full of (subsystem, driver, /sys/bus/*/devices, /sys/class) point back into
// the tree and would make a following walk loop. Unreadable entries are skipped and counted;
// only a missing or unreadable <root>/sys/devices is an error. root "" means "/".
func Scan(root string) (*ScanResult, error) { return ScanFunc(root, nil) }

// ScanFunc is Scan that also calls found, when it is not nil, with each device as the walk
// comes to it (in walk order, from the calling goroutine), so that a caller can start on the
// first devices while the walk goes on: under emulation a walk of a small machine's sysfs
// takes a tenth of a second.
func ScanFunc(root string, found func(Device)) (*ScanResult, error) {
	if err := checkSysfs(root); err != nil {
		return nil, err
	}
	return scanChecked(root, found), nil
}

// scanChecked is ScanFunc once checkSysfs has passed.
func scanChecked(root string, found func(Device)) *ScanResult {
	start := time.Now()
	sys := filepath.Join(rootDir(root), "sys")
	top := filepath.Join(sys, "devices")
	res := &ScanResult{sys: sys, found: found}
	walk(top, res)
	sort.Slice(res.Devices, func(i, j int) bool { return res.Devices[i].Path < res.Devices[j].Path })
	res.Took = time.Since(start)
	return res
}

// checkSysfs fails, saying what to do, when <root>/sys/devices cannot be read.
func checkSysfs(root string) error {
	sys := filepath.Join(rootDir(root), "sys")
	if _, err := os.ReadDir(filepath.Join(sys, "devices")); err != nil {
		return fmt.Errorf("scan devices: %w (is sysfs mounted on %s?)", err, sys)
	}
	return nil
}

// addModalias records the device in dir whose modalias file held b.
func (res *ScanResult) addModalias(dir string, b []byte) {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return
	}
	d := Device{
		Path:      filepath.ToSlash(strings.TrimPrefix(dir, res.sys)),
		Modalias:  string(b),
		Subsystem: linkName(dir, "subsystem"),
		Source:    "scan",
	}
	res.Devices = append(res.Devices, d)
	if res.found != nil {
		res.found(d)
	}
}

// walkPortable is the walk for any operating system: filepath.WalkDir, which does not follow
// symbolic links. Device.Path is left as the device's directory.
func walkPortable(top string, res *ScanResult) {
	filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
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
		res.addModalias(filepath.Dir(p), b)
		return nil
	})
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

// kernelSeqnum reads the kernel's uevent counter, <root>/sys/kernel/uevent_seqnum; ok is false
// when it cannot be read, as in a sysfs fixture without it.
func kernelSeqnum(root string) (n uint64, ok bool) {
	b, err := sysread.ReadFile(filepath.Join(rootDir(root), "sys/kernel/uevent_seqnum"))
	if err != nil {
		return 0, false
	}
	n, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

func rootDir(root string) string {
	if root == "" {
		return "/"
	}
	return root
}

// cpuStat is the first line of <root>/proc/stat: the jiffies all CPUs together spent idle
// (idle and iowait) and in all.
type cpuStat struct{ idle, total uint64 }

// readCPUStat reads <root>/proc/stat; ok is false when it cannot.
func readCPUStat(root string) (st cpuStat, ok bool) {
	b, err := sysread.ReadFile(filepath.Join(rootDir(root), "proc/stat"))
	if err != nil {
		return st, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return st, false
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return cpuStat{}, false
		}
		if i >= 8 {
			break // guest and guest_nice are already counted in user and nice
		}
		st.total += n
		if i == 3 || i == 4 {
			st.idle += n
		}
	}
	return st, true
}

// idleShare returns the share of CPU time spent idle between a and b, or 0.
func idleShare(a, b cpuStat) float64 {
	if b.total <= a.total || b.idle < a.idle {
		return 0
	}
	return float64(b.idle-a.idle) / float64(b.total-a.total)
}
