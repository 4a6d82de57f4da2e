// Package coldplugtest replays QEMU machines captured by scripts/capture-fixtures, for testing
// coldplug without a VM: it builds a machine's sysfs as it was before any module was loaded,
// says which devices each module's load makes appear (virtio devices after virtio_pci, SCSI
// disks after ahci or virtio_scsi, ...), and provides the kernel's real uevent datagrams and a
// fake event source to replay them.
//
// # Machines
//
// Each machine under testdata/machines has devices.tsv, one line per device with a modalias and
// per stage (0: before any module was loaded; 1, 2: after each round of `modprobe` over all
// modaliases), with its subsystem, bound driver and the driver's module; modules.txt
// (/proc/modules at the end); image-modules.txt (the module files in the image) with their
// modules.dep and modules.alias as depmod wrote them; and uevents.txt, every uevent the kernel
// sent meanwhile (sender port id, sender uid, hex datagram).
//
// The sysfs trees are built at test time rather than checked in as directories because sysfs
// names contain ':' (0000:00:03.0), which Go module zips refuse in file names: a checked-in
// tree would make this module impossible to fetch.
package coldplugtest

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/kmodboot/kmodboot/pkg/uevent"
)

//go:embed testdata/machines
var machinesFS embed.FS

// Machines lists the captured machines: "6.1-q35", "6.1-pc", "6.12-q35".
func Machines() []string {
	ents, _ := machinesFS.ReadDir("testdata/machines")
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// Device is one line of devices.tsv.
type Device struct {
	// Stage is 0 for a device present before any module was loaded, n after n rounds.
	Stage int
	// Path is the sysfs path without /sys ("/devices/pci0000:00/0000:00:03.0").
	Path string
	// Subsystem, Driver and Module are the subsystem, the bound driver and its module at that
	// stage ("" for none).
	Subsystem, Driver, Module string
	// Modalias is the device's modalias.
	Modalias string
}

// Machine is a captured machine.
type Machine struct {
	Name string
	// Rows are the lines of devices.tsv.
	Rows []Device
	// First and Final map a device path to its row at the first and the last stage it is in.
	First, Final map[string]Device
	// Loaded holds the modules loaded at the end (modules.txt); Image the modules in the
	// image (image-modules.txt).
	Loaded, Image map[string]bool
	// Uevents are the kernel's datagrams, in order.
	Uevents [][]byte
	// ModulesDep and ModulesAlias are the image's modules.dep and modules.alias.
	ModulesDep, ModulesAlias []byte
}

func read(name, file string) ([]byte, error) {
	b, err := machinesFS.ReadFile(path.Join("testdata/machines", name, file))
	if err != nil {
		return nil, fmt.Errorf("coldplugtest: machine %s: %w", name, err)
	}
	return b, nil
}

// moduleName turns a module file path into the module's name.
func moduleName(p string) string {
	b := path.Base(strings.TrimSpace(p))
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}

// Load reads a captured machine.
func Load(name string) (*Machine, error) {
	m := &Machine{Name: name, First: map[string]Device{}, Final: map[string]Device{}, Loaded: map[string]bool{}, Image: map[string]bool{}}
	tsv, err := read(name, "devices.tsv")
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(tsv))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 6 {
			return nil, fmt.Errorf("coldplugtest: %s/devices.tsv: bad line %q", name, sc.Text())
		}
		stage, err := strconv.Atoi(c[0])
		if err != nil {
			return nil, fmt.Errorf("coldplugtest: %s/devices.tsv: bad stage in %q", name, sc.Text())
		}
		d := Device{stage, c[1], dash(c[2]), dash(c[3]), dash(c[4]), c[5]}
		m.Rows = append(m.Rows, d)
		if _, ok := m.First[d.Path]; !ok {
			m.First[d.Path] = d
		}
		m.Final[d.Path] = d
	}
	for file, set := range map[string]map[string]bool{"modules.txt": m.Loaded, "image-modules.txt": m.Image} {
		b, err := read(name, file)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Fields(string(b)) {
			set[moduleName(l)] = true
		}
	}
	ue, err := read(name, "uevents.txt")
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(strings.TrimSpace(string(ue)), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			return nil, fmt.Errorf("coldplugtest: %s/uevents.txt: bad line %q", name, l)
		}
		b, err := hex.DecodeString(f[2])
		if err != nil {
			return nil, fmt.Errorf("coldplugtest: %s/uevents.txt: %w", name, err)
		}
		m.Uevents = append(m.Uevents, b)
	}
	if m.ModulesDep, err = read(name, "modules.dep"); err != nil {
		return nil, err
	}
	if m.ModulesAlias, err = read(name, "modules.alias"); err != nil {
		return nil, err
	}
	return m, nil
}

func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// Creator returns the module whose load made device d appear: the module of the driver of its
// nearest ancestor device, or else its own driver's module (a driver that creates its own
// platform device, like floppy).
func (m *Machine) Creator(d Device) string {
	best := ""
	for p, a := range m.Final {
		if strings.HasPrefix(d.Path, p+"/") && len(p) > len(best) && a.Module != "" {
			best = p
		}
	}
	if best != "" {
		return m.Final[best].Module
	}
	return d.Module
}

// DriverModules maps each modalias to the module that drove a device with it on the real
// machine. Drivers built into the kernel are absent: their device tables are in no index, so
// those modaliases match nothing.
func (m *Machine) DriverModules() map[string]string {
	out := map[string]string{}
	for _, d := range m.Final {
		if d.Module != "" && m.Loaded[d.Module] {
			out[d.Modalias] = d.Module
		}
	}
	return out
}

// AppearAfter returns the devices that the load of module makes appear, sorted by path.
func (m *Machine) AppearAfter(module string) []Device {
	var out []Device
	for _, d := range m.First {
		if d.Stage > 0 && m.Creator(d) == module {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Expected works out, the simple way (stage by stage, no concurrency, no events), what a
// coldplug resolving with table must load and how many devices it sees: the devices present
// before any load, plus those each loaded module makes appear.
func (m *Machine) Expected(table map[string]string) (modules []string, devices int) {
	present := map[string]Device{}
	for _, d := range m.Rows {
		if d.Stage == 0 {
			present[d.Path] = d
		}
	}
	loaded := map[string]bool{}
	for {
		var next []string
		for _, d := range present {
			if mod, ok := table[d.Modalias]; ok && !loaded[mod] {
				loaded[mod] = true
				next = append(next, mod)
			}
		}
		if len(next) == 0 {
			for mod := range loaded {
				modules = append(modules, mod)
			}
			sort.Strings(modules)
			return modules, len(present)
		}
		for _, mod := range next {
			for _, d := range m.AppearAfter(mod) {
				present[d.Path] = d
			}
		}
	}
}

// WriteDevice creates d under root/sys/devices with its modalias file and a subsystem link,
// and the /sys/bus/<subsystem>/devices link back to it, like sysfs; withDriver adds the driver
// link.
func WriteDevice(root string, d Device, withDriver bool) error {
	sys := filepath.Join(root, "sys")
	dir := filepath.Join(sys, filepath.FromSlash(d.Path))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "modalias"), []byte(d.Modalias+"\n"), 0o444); err != nil {
		return err
	}
	rel := func(from, target string) string {
		r, err := filepath.Rel(from, target)
		if err != nil {
			return target
		}
		return r
	}
	if d.Subsystem != "" {
		bus := filepath.Join(sys, "bus", d.Subsystem)
		if err := os.MkdirAll(filepath.Join(bus, "devices"), 0o755); err != nil {
			return err
		}
		os.Symlink(rel(dir, bus), filepath.Join(dir, "subsystem"))
		link := filepath.Join(bus, "devices", filepath.Base(dir))
		os.Symlink(rel(filepath.Dir(link), dir), link)
		if withDriver && d.Driver != "" {
			drv := filepath.Join(bus, "drivers", d.Driver)
			if err := os.MkdirAll(drv, 0o755); err != nil {
				return err
			}
			os.Symlink(rel(dir, drv), filepath.Join(dir, "driver"))
		}
	}
	return nil
}

// WriteStage0 builds the machine's sysfs under root as it was before any module was loaded,
// with a symbolic link loop like the ones sysfs has, which a walker must not follow.
func (m *Machine) WriteStage0(root string) error {
	for _, d := range m.Rows {
		if d.Stage == 0 {
			if err := WriteDevice(root, d, true); err != nil {
				return err
			}
		}
	}
	return os.Symlink(".", filepath.Join(root, "sys/devices/loop"))
}

// Appear writes the devices that module's load makes appear and, when src is not nil, sends
// their captured "add" uevents to it.
func (m *Machine) Appear(root, module string, src *Source) error {
	for _, d := range m.AppearAfter(module) {
		if err := WriteDevice(root, d, false); err != nil {
			return err
		}
		if src != nil {
			if b := m.AddEvent(d.Path); b != nil {
				src.SendRaw(b)
			}
		}
	}
	return nil
}

// AddEvent returns the captured kernel "add" datagram for devpath, or nil.
func (m *Machine) AddEvent(devpath string) []byte {
	prefix := []byte("add@" + devpath + "\x00")
	for _, b := range m.Uevents {
		if bytes.HasPrefix(b, prefix) {
			return b
		}
	}
	return nil
}

// Source is an event source fed by the test (it satisfies coldplug.EventSource). Datagrams are
// parsed on Receive, and those that do not parse are dropped, as uevent.Conn does.
type Source struct {
	ch     chan sourceMsg
	once   sync.Once
	closed chan struct{}

	mu      sync.Mutex // mu orders numbering and queueing; it guards the fields below.
	counter string     // see NumberEvents
	seq     uint64
}

type sourceMsg struct {
	raw []byte
	err error
}

// NewSource returns an empty Source.
func NewSource() *Source {
	return &Source{ch: make(chan sourceMsg, 4096), closed: make(chan struct{})}
}

// NumberEvents makes the Source number what it sends as the kernel does: each datagram sent
// afterwards gets the next SEQNUM (replacing the captured one), and the file counter (a
// fixture's sys/kernel/uevent_seqnum) is raised to it before the datagram is queued.
// Captured SEQNUMs come from another boot's order of events, which a test's loads do not
// follow.
func (s *Source) NumberEvents(counter string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counter = counter
	return s.writeCounter()
}

func (s *Source) writeCounter() error {
	if err := os.MkdirAll(filepath.Dir(s.counter), 0o755); err != nil {
		return err
	}
	return os.WriteFile(s.counter, []byte(strconv.FormatUint(s.seq, 10)+"\n"), 0o644)
}

// seqnumVar matches the SEQNUM variable of a datagram.
var seqnumVar = regexp.MustCompile("\x00SEQNUM=[0-9]*")

// SendRaw queues a datagram.
func (s *Source) SendRaw(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counter != "" {
		s.seq++
		b = seqnumVar.ReplaceAll(b, []byte("\x00SEQNUM="+strconv.FormatUint(s.seq, 10)))
		if err := s.writeCounter(); err != nil {
			panic(fmt.Sprintf("coldplugtest: write the uevent counter: %v", err))
		}
	}
	s.ch <- sourceMsg{raw: b}
}

// SendErr queues an error, such as uevent.ErrOverflow.
func (s *Source) SendErr(err error) { s.ch <- sourceMsg{err: err} }

// Receive returns the next queued event or error, and uevent.ErrClosed after Close.
func (s *Source) Receive() (*uevent.Event, error) {
	for {
		select {
		case m := <-s.ch:
			if m.err != nil {
				return nil, m.err
			}
			ev, err := uevent.Parse(m.raw)
			if err != nil {
				continue
			}
			return ev, nil
		case <-s.closed:
			return nil, uevent.ErrClosed
		}
	}
}

// Close makes Receive return uevent.ErrClosed.
func (s *Source) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}
