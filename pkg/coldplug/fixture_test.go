package coldplug

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kmodboot/kmodboot/pkg/uevent"
)

// The machines under testdata/machines were captured from QEMU by
// scripts/capture-fixtures/capture.sh: devices.tsv has one line per device with a modalias and
// per stage (0: before any module was loaded, 1..: after each round of loading), with its
// subsystem, bound driver and the driver's module; modules.txt lists /proc/modules at the end;
// uevents.txt holds every uevent the kernel sent meanwhile (sender port id, uid, hex bytes).
//
// The trees are built at test time rather than checked in as directories because sysfs names
// contain ':' (0000:00:03.0), which Go module zips do not allow in file names: a checked-in
// tree would make the module impossible to fetch.

// fixtureDevice is one line of devices.tsv.
type fixtureDevice struct {
	stage                           int
	path, subsystem, driver, module string
	modalias                        string
}

type machine struct {
	name    string
	rows    []fixtureDevice
	first   map[string]fixtureDevice // path -> the row of the stage it first appears in
	final   map[string]fixtureDevice // path -> the row of the last stage
	loaded  map[string]bool          // modules.txt
	uevents [][]byte                 // kernel datagrams, in order
}

func loadMachine(t testing.TB, name string) *machine {
	t.Helper()
	dir := filepath.Join("testdata", "machines", name)
	m := &machine{name: name, first: map[string]fixtureDevice{}, final: map[string]fixtureDevice{}, loaded: map[string]bool{}}
	f, err := os.Open(filepath.Join(dir, "devices.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 6 {
			t.Fatalf("%s/devices.tsv: bad line %q", dir, sc.Text())
		}
		stage, err := strconv.Atoi(c[0])
		if err != nil {
			t.Fatalf("%s/devices.tsv: bad stage in %q", dir, sc.Text())
		}
		d := fixtureDevice{stage, c[1], dash(c[2]), dash(c[3]), dash(c[4]), c[5]}
		m.rows = append(m.rows, d)
		if _, ok := m.first[d.path]; !ok {
			m.first[d.path] = d
		}
		m.final[d.path] = d
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	mods, err := os.ReadFile(filepath.Join(dir, "modules.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Fields(string(mods)) {
		m.loaded[l] = true
	}
	ue, err := os.ReadFile(filepath.Join(dir, "uevents.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(ue)), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("%s/uevents.txt: bad line %q", dir, l)
		}
		b, err := hex.DecodeString(f[2])
		if err != nil {
			t.Fatalf("%s/uevents.txt: %v", dir, err)
		}
		m.uevents = append(m.uevents, b)
	}
	return m
}

func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// creator returns the module whose load made device d appear: the module of the driver of its
// nearest ancestor device, or its own driver's module (a driver that creates its own platform
// device, like floppy).
func (m *machine) creator(d fixtureDevice) string {
	best := ""
	for p, a := range m.final {
		if strings.HasPrefix(d.path, p+"/") && len(p) > len(best) && a.module != "" {
			best = p
		}
	}
	if best != "" {
		return m.final[best].module
	}
	return d.module
}

// driverModules maps each modalias to the module that drove a device with it on the real
// machine: what a real loader would resolve it to. Drivers built into the kernel are absent:
// their device tables are not in any index, so those modaliases match nothing.
func (m *machine) driverModules() map[string]string {
	out := map[string]string{}
	for _, d := range m.final {
		if d.module != "" && m.loaded[d.module] {
			out[d.modalias] = d.module
		}
	}
	return out
}

// expected works out, the simple way (one stage at a time, no concurrency, no events), which
// modules a coldplug with the driverModules table must load and which devices it must see:
// devices present before any load, plus those each loaded module makes appear.
func (m *machine) expected() (modules []string, devices int) {
	table := m.driverModules()
	present := map[string]fixtureDevice{}
	for _, d := range m.rows {
		if d.stage == 0 {
			present[d.path] = d
		}
	}
	loaded := map[string]bool{}
	for {
		var next []string
		for _, d := range present {
			if mod, ok := table[d.modalias]; ok && !loaded[mod] {
				loaded[mod] = true
				next = append(next, mod)
			}
		}
		if len(next) == 0 {
			return sortedKeys(loaded), len(present)
		}
		for _, mod := range next {
			for _, d := range m.appearAfter(mod) {
				present[d.path] = d
			}
		}
	}
}

func sortedKeys(set map[string]bool) []string {
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeDevice creates d's directory under root/sys/devices with its modalias file and a
// subsystem link, and the /sys/bus/<subsystem>/devices link back to it, like sysfs.
func writeDevice(t testing.TB, root string, d fixtureDevice, withDriver bool) {
	t.Helper()
	sys := filepath.Join(root, "sys")
	dir := filepath.Join(sys, filepath.FromSlash(d.path))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modalias"), []byte(d.modalias+"\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	rel := func(target string) string {
		r, err := filepath.Rel(dir, target)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if d.subsystem != "" {
		bus := filepath.Join(sys, "bus", d.subsystem)
		os.MkdirAll(filepath.Join(bus, "devices"), 0o755)
		os.Symlink(rel(bus), filepath.Join(dir, "subsystem"))
		link := filepath.Join(bus, "devices", filepath.Base(dir))
		r, _ := filepath.Rel(filepath.Dir(link), dir)
		os.Symlink(r, link)
	}
	if withDriver && d.driver != "" && d.subsystem != "" {
		drv := filepath.Join(sys, "bus", d.subsystem, "drivers", d.driver)
		os.MkdirAll(drv, 0o755)
		os.Symlink(rel(drv), filepath.Join(dir, "driver"))
	}
}

// writeStage0 builds the machine's sysfs as it was before any module was loaded.
func (m *machine) writeStage0(t testing.TB, root string) {
	t.Helper()
	for _, d := range m.rows {
		if d.stage == 0 {
			writeDevice(t, root, d, true)
		}
	}
	// A symlink loop like the ones sysfs has (a device's subsystem link leads to the bus, whose
	// devices links lead back to the device): a walker that follows links never ends.
	os.MkdirAll(filepath.Join(root, "sys/class/net"), 0o755)
	os.Symlink(".", filepath.Join(root, "sys/devices/loop"))
}

// appearAfter returns the devices that the load of module makes appear.
func (m *machine) appearAfter(module string) []fixtureDevice {
	var out []fixtureDevice
	for _, d := range m.first {
		if d.stage > 0 && m.creator(d) == module {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// addEvent returns the captured kernel "add" datagram for devpath, or nil.
func (m *machine) addEvent(devpath string) []byte {
	prefix := []byte("add@" + devpath + "\x00")
	for _, b := range m.uevents {
		if len(b) >= len(prefix) && string(b[:len(prefix)]) == string(prefix) {
			return b
		}
	}
	return nil
}

// fakeSource is an EventSource fed by the test.
type fakeSource struct {
	ch     chan fakeMsg
	once   sync.Once
	closed chan struct{}
}

type fakeMsg struct {
	raw []byte
	err error
}

func newFakeSource() *fakeSource {
	return &fakeSource{ch: make(chan fakeMsg, 1024), closed: make(chan struct{})}
}

// sendRaw queues a raw datagram; it is parsed on Receive like a real one.
func (s *fakeSource) sendRaw(b []byte)  { s.ch <- fakeMsg{raw: b} }
func (s *fakeSource) sendErr(err error) { s.ch <- fakeMsg{err: err} }

func (s *fakeSource) Receive() (*uevent.Event, error) {
	for {
		select {
		case m := <-s.ch:
			if m.err != nil {
				return nil, m.err
			}
			ev, err := uevent.Parse(m.raw)
			if err != nil {
				continue // dropped, like Conn does
			}
			return ev, nil
		case <-s.closed:
			return nil, uevent.ErrClosed
		}
	}
}

func (s *fakeSource) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// fakeLoader resolves modaliases with a fixed table and "loads" modules by making the devices
// they create appear in the fixture tree (and, with events, sending their captured uevents).
type fakeLoader struct {
	t       testing.TB
	m       *machine
	root    string
	table   map[string][]string // modalias -> modules
	deps    map[string][]string // module -> hard dependencies
	events  *fakeSource         // nil: devices appear silently
	delay   time.Duration
	fail    map[string]error         // module -> init error
	hang    map[string]chan struct{} // modalias -> blocks until closed (ignoring ctx)
	resolve map[string]error         // modalias -> resolution error
	dryRun  bool

	mu        sync.Mutex // mu guards everything below.
	loaded    map[string]bool
	calls     []string // modules, in order of their finit
	active    int
	maxActive int
}

func newFakeLoader(t testing.TB, m *machine, root string) *fakeLoader {
	l := &fakeLoader{t: t, m: m, root: root, table: map[string][]string{}, deps: map[string][]string{},
		fail: map[string]error{}, hang: map[string]chan struct{}{}, resolve: map[string]error{}, loaded: map[string]bool{}}
	if m != nil {
		for alias, mod := range m.driverModules() {
			l.table[alias] = []string{mod}
		}
	}
	return l
}

func (l *fakeLoader) LoadAlias(ctx context.Context, alias string) ([]ModuleResult, error) {
	if ch, ok := l.hang[alias]; ok {
		<-ch // a finit_module that never returns: ctx cannot interrupt it
	}
	if err := l.resolve[alias]; err != nil {
		return nil, err
	}
	var out []ModuleResult
	for _, mod := range l.table[alias] {
		for _, d := range l.deps[mod] {
			r := l.loadOne(ctx, d)
			r.Via = mod
			out = append(out, r)
		}
		out = append(out, l.loadOne(ctx, mod))
	}
	return out, nil
}

func (l *fakeLoader) loadOne(ctx context.Context, mod string) ModuleResult {
	start := time.Now()
	if l.dryRun {
		return ModuleResult{Module: mod, Outcome: DryRun, Start: start, End: start}
	}
	l.mu.Lock()
	if l.loaded[mod] {
		l.mu.Unlock()
		return ModuleResult{Module: mod, Outcome: Already, Start: start, End: start}
	}
	l.loaded[mod] = true
	l.calls = append(l.calls, mod)
	l.active++
	l.maxActive = max(l.maxActive, l.active)
	l.mu.Unlock()
	if l.delay > 0 {
		time.Sleep(l.delay)
	}
	err := l.fail[mod]
	if err == nil && l.m != nil {
		for _, d := range l.m.appearAfter(mod) {
			writeDevice(l.t, l.root, d, false)
			if l.events != nil {
				if b := l.m.addEvent(d.path); b != nil {
					l.events.sendRaw(b)
				}
			}
		}
	}
	l.mu.Lock()
	l.active--
	if err != nil {
		delete(l.loaded, mod)
	}
	l.mu.Unlock()
	r := ModuleResult{Module: mod, Outcome: Loaded, Call: "finit_module", Start: start, End: time.Now()}
	if err != nil {
		r.Outcome, r.Err = Failed, fmt.Errorf("load %s (kernel/%s.ko): finit_module: %w", mod, mod, err)
	}
	return r
}

// errENODEV is what a cpufreq driver's init returns on a machine without its CPU feature.
var errENODEV = syscall.ENODEV
