package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Controller is a PCI or virtio device that a root disk or a network interface sits behind.
type Controller struct {
	// Bus is "pci" or "virtio"; Addr is the device's name on that bus (0000:00:04.0, virtio1).
	Bus, Addr string
	// What describes the class: "NVM Express storage controller", "virtio block device".
	What string
	// Modalias is the device's modalias, the key a module must match.
	Modalias string
	// Driver is the bound driver's name, "" when no driver is bound.
	Driver string
	// Storage is true for mass-storage controllers and disks, false for network devices.
	Storage bool
}

// deviceKind names a kind of controller and says whether it is storage or network.
type deviceKind struct {
	what    string
	storage bool
}

// pciClasses names the PCI classes (class<<8 | subclass) the init cares about.
var pciClasses = map[uint32]deviceKind{
	0x0100: {"SCSI storage controller", true},
	0x0101: {"IDE controller", true},
	0x0104: {"RAID controller", true},
	0x0105: {"ATA controller", true},
	0x0106: {"SATA controller", true},
	0x0107: {"SAS controller", true},
	0x0108: {"NVM Express storage controller", true},
	0x0180: {"storage controller", true},
	0x0200: {"Ethernet controller", false},
	0x0280: {"network controller", false},
}

// virtioDevices names the virtio device IDs behind the disks and NICs.
var virtioDevices = map[uint32]deviceKind{
	1: {"virtio network device", false},
	2: {"virtio block device", true},
	8: {"virtio SCSI host", true},
}

// Controllers lists the storage and network controllers in a sysfs tree (bus/pci/devices and
// bus/virtio/devices under sysRoot), sorted by bus and address. Devices of other classes are
// left out; unreadable entries are skipped.
func Controllers(sysRoot string) []Controller {
	var out []Controller
	pciDir := filepath.Join(sysRoot, "bus", "pci", "devices")
	ents, _ := os.ReadDir(pciDir)
	for _, e := range ents {
		dir := filepath.Join(pciDir, e.Name())
		cls, err := readHex(filepath.Join(dir, "class"))
		if err != nil {
			continue
		}
		c, ok := pciClasses[cls>>8]
		if !ok {
			continue
		}
		out = append(out, Controller{
			Bus: "pci", Addr: e.Name(), What: c.what, Storage: c.storage,
			Modalias: readLine(filepath.Join(dir, "modalias")),
			Driver:   driverName(dir),
		})
	}
	vDir := filepath.Join(sysRoot, "bus", "virtio", "devices")
	ents, _ = os.ReadDir(vDir)
	for _, e := range ents {
		dir := filepath.Join(vDir, e.Name())
		id, err := readHex(filepath.Join(dir, "device"))
		if err != nil {
			continue
		}
		c, ok := virtioDevices[id]
		if !ok {
			continue
		}
		out = append(out, Controller{
			Bus: "virtio", Addr: e.Name(), What: c.what, Storage: c.storage,
			Modalias: readLine(filepath.Join(dir, "modalias")),
			Driver:   driverName(dir),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bus != out[j].Bus {
			return out[i].Bus < out[j].Bus
		}
		return out[i].Addr < out[j].Addr
	})
	return out
}

func readLine(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readHex(p string) (uint32, error) {
	s := readLine(p)
	if s == "" {
		return 0, fmt.Errorf("%s: empty", p)
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 32)
	return uint32(n), err
}

func driverName(devDir string) string {
	t, err := os.Readlink(filepath.Join(devDir, "driver"))
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

// explainMissingRoot returns the lines the init prints when the root device did not appear:
// what was asked for, which block devices exist, and which controllers have no driver (the
// usual cause: the image lacks the module, or the module failed to load).
func explainMissingRoot(spec string, waited string, devs []string, ctrls []Controller) []string {
	lines := []string{fmt.Sprintf("no device for root=%s after waiting %s", spec, waited)}
	if len(devs) == 0 {
		lines = append(lines, "block devices present: none")
	} else {
		lines = append(lines, "block devices present:")
		for _, d := range devs {
			lines = append(lines, "  "+d)
		}
	}
	var storage, unbound int
	for _, c := range ctrls {
		if !c.Storage {
			continue
		}
		storage++
		if c.Driver != "" {
			continue
		}
		unbound++
		lines = append(lines, fmt.Sprintf(
			"no driver matched the disk controller %s %s (%s, modalias %s): the image has no module for it or it failed to load; see coldplug's report above and `modmatch %s`",
			c.Bus, c.Addr, c.What, orNone(c.Modalias), c.Modalias))
	}
	switch {
	case storage == 0:
		lines = append(lines, "no storage controller found on PCI or virtio: is the disk attached to this machine?")
	case unbound == 0:
		lines = append(lines, fmt.Sprintf("every storage controller has a driver; no disk carries %s (check the label/UUID against the list above)", spec))
	}
	return lines
}

// unboundNICs returns one line per network controller without a driver.
func unboundNICs(ctrls []Controller) []string {
	var lines []string
	for _, c := range ctrls {
		if c.Storage || c.Driver != "" {
			continue
		}
		lines = append(lines, fmt.Sprintf("no driver matched the network controller %s %s (%s, modalias %s)",
			c.Bus, c.Addr, c.What, orNone(c.Modalias)))
	}
	return lines
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
