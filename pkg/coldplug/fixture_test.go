package coldplug

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kmodboot/kmodboot/pkg/coldplug/coldplugtest"
)

// loadMachine loads a captured machine (see package coldplugtest).
func loadMachine(t testing.TB, name string) *coldplugtest.Machine {
	t.Helper()
	m, err := coldplugtest.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// stage0 builds the machine's sysfs before any load in a new directory and returns it.
func stage0(t testing.TB, m *coldplugtest.Machine) string {
	t.Helper()
	root := t.TempDir()
	if err := m.WriteStage0(root); err != nil {
		t.Fatal(err)
	}
	return root
}

func writeDevice(t testing.TB, root string, d coldplugtest.Device) {
	t.Helper()
	if err := coldplugtest.WriteDevice(root, d, false); err != nil {
		t.Fatal(err)
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

// fakeLoader resolves modaliases with a fixed table and "loads" modules by making the devices
// they create appear in the fixture tree (and, with events, sending their captured uevents).
type fakeLoader struct {
	t       testing.TB
	m       *coldplugtest.Machine
	root    string
	table   map[string][]string  // modalias -> modules
	deps    map[string][]string  // module -> hard dependencies
	events  *coldplugtest.Source // nil: devices appear silently
	delay   time.Duration
	fail    map[string]error         // module -> init error
	hang    map[string]chan struct{} // modalias -> blocks until closed (ignoring ctx)
	resolve map[string]error         // modalias -> resolution error
	dryRun  bool
	onLoad  func(mod string) // called after each successful load

	mu        sync.Mutex // mu guards everything below.
	loaded    map[string]bool
	calls     []string // modules, in order of their finit
	active    int
	maxActive int
}

func newFakeLoader(t testing.TB, m *coldplugtest.Machine, root string) *fakeLoader {
	l := &fakeLoader{t: t, m: m, root: root, table: map[string][]string{}, deps: map[string][]string{},
		fail: map[string]error{}, hang: map[string]chan struct{}{}, resolve: map[string]error{}, loaded: map[string]bool{}}
	if m != nil {
		for alias, mod := range m.DriverModules() {
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
		if aerr := l.m.Appear(l.root, mod, l.events); aerr != nil {
			l.t.Errorf("make the devices of %s appear: %v", mod, aerr)
		}
	}
	if err == nil && l.onLoad != nil {
		l.onLoad(mod)
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

// writeCounter writes the fixture's <root>/sys/kernel/uevent_seqnum.
func writeCounter(t testing.TB, root string, n uint64) {
	t.Helper()
	p := filepath.Join(root, "sys/kernel/uevent_seqnum")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strconv.FormatUint(n, 10)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// errENODEV is what a cpufreq driver's init returns on a machine without its CPU feature.
var errENODEV = syscall.ENODEV
