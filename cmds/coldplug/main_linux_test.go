package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kmodboot/kmodboot/pkg/coldplug"
	"github.com/kmodboot/kmodboot/pkg/coldplug/coldplugtest"
	"github.com/kmodboot/kmodboot/pkg/kmod"
	"github.com/kmodboot/kmodboot/pkg/kmod/kmodtest"
)

var releases = map[string]string{"6.1-q35": "6.1.0-56-amd64", "6.1-pc": "6.1.0-56-amd64", "6.12-q35": "6.12.117+deb12-amd64"}

// fixtureModules turns a captured machine's modules.dep and modules.alias (depmod's view of
// the modules that were in its image) into a fake module tree: the real names, dependencies and
// alias patterns, so the real index and matcher resolve the machine's real modaliases.
func fixtureModules(t *testing.T, m *coldplugtest.Machine, compression string) []kmodtest.Module {
	t.Helper()
	mods := map[string]*kmodtest.Module{}
	name := func(p string) string {
		b := filepath.Base(strings.TrimSpace(p))
		return strings.ReplaceAll(b[:strings.Index(b, ".ko")], "-", "_")
	}
	sc := bufio.NewScanner(bytes.NewReader(m.ModulesDep))
	for sc.Scan() {
		file, deps, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			t.Fatalf("%s modules.dep: bad line %q", m.Name, sc.Text())
		}
		mod := &kmodtest.Module{Name: name(file), Compression: compression}
		for _, d := range strings.Fields(deps) {
			mod.Depends = append(mod.Depends, name(d))
		}
		mods[mod.Name] = mod
	}
	sc = bufio.NewScanner(bytes.NewReader(m.ModulesAlias))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "alias" {
			continue
		}
		if mod := mods[f[2]]; mod != nil {
			mod.Aliases = append(mod.Aliases, f[1])
		} else {
			t.Fatalf("%s modules.alias: alias for unknown module %q", m.Name, f[2])
		}
	}
	var out []kmodtest.Module
	for _, mod := range mods {
		out = append(out, *mod)
	}
	return out
}

// appearingKernel is the fake kernel, plus the machine: a module that loads makes the devices
// it created on the real machine appear in the sysfs fixture, with their uevents.
type appearingKernel struct {
	*kmodtest.Kernel
	t    *testing.T
	m    *coldplugtest.Machine
	root string
	src  *coldplugtest.Source
	hang map[string]chan struct{} // module -> finit_module blocks until closed
	busy atomic.Int32             // finit_module calls in progress
}

// settle waits until no load has been in progress for a while: coldplug returns at its bound
// without waiting for hung loads, which then go on writing into the test's directory.
func (k *appearingKernel) settle() {
	idle := 0
	for deadline := time.Now().Add(10 * time.Second); idle < 20 && time.Now().Before(deadline); {
		if k.busy.Load() == 0 {
			idle++
		} else {
			idle = 0
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (k *appearingKernel) FinitModule(fd int, params string, flags int) error {
	k.busy.Add(1)
	defer k.busy.Add(-1)
	file, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return err
	}
	b := filepath.Base(file)
	mod := strings.ReplaceAll(b[:strings.Index(b, ".ko")], "-", "_")
	if ch := k.hang[mod]; ch != nil {
		<-ch
	}
	if err := k.Kernel.FinitModule(fd, params, flags); err != nil {
		return err
	}
	if err := k.m.Appear(k.root, mod, k.src); err != nil {
		k.t.Errorf("make the devices of %s appear: %v", mod, err)
	}
	return nil
}

type machineEnv struct {
	root, release string
	kernel        *appearingKernel
	src           *coldplugtest.Source
	env           env
}

// setupMachine builds the machine's sysfs, a module tree and meta.pb from its modules.dep and
// modules.alias, and a fake kernel. Modules that were in the image but did not end up loaded on
// the real machine fail with ENODEV, as they did there (CPU frequency and EDAC drivers, kvm_amd
// under TCG, and what depends on them).
func setupMachine(t *testing.T, name string, extra ...kmodtest.Module) *machineEnv {
	t.Helper()
	m, err := coldplugtest.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := m.WriteStage0(root); err != nil {
		t.Fatal(err)
	}
	comp := ""
	if strings.HasPrefix(name, "6.12") {
		comp = "xz" // Debian's 6.12 ships .ko.xz and decompresses xz in finit_module
	}
	rel := releases[name]
	if _, err := kmodtest.WriteTree(root, rel, append(fixtureModules(t, m, comp), extra...)); err != nil {
		t.Fatal(err)
	}
	fk, err := kmodtest.NewKernel(root, comp)
	if err != nil {
		t.Fatal(err)
	}
	fk.InitErr = map[string]error{}
	for mod := range m.Image {
		if !m.Loaded[mod] {
			fk.InitErr[mod] = syscall.ENODEV
		}
	}
	src := coldplugtest.NewSource()
	k := &appearingKernel{Kernel: fk, t: t, m: m, root: root, src: src, hang: map[string]chan struct{}{}}
	t.Cleanup(k.settle) // runs before the TempDir is removed
	return &machineEnv{root: root, release: rel, kernel: k, src: src, env: env{
		kernel: k,
		events: func() (coldplug.EventSource, func() any, error) { return src, nil, nil },
	}}
}

type jsonReport struct {
	Summary  string                `json:"summary"`
	TimedOut bool                  `json:"timed_out"`
	Pending  []string              `json:"pending"`
	Modules  []coldplug.ModuleLoad `json:"modules"`
	Aliases  []coldplug.Alias      `json:"aliases"`
	Devices  []coldplug.Device     `json:"devices"`
	Usage    usage                 `json:"usage"`
	Release  string                `json:"release"`
}

// TestMachines runs the command on each captured machine with the real index, matcher and
// loader over the machine's real module aliases and dependencies: it must load exactly the
// modules the real machine ended up with.
func TestMachines(t *testing.T) {
	for _, name := range coldplugtest.Machines() {
		t.Run(name, func(t *testing.T) {
			e := setupMachine(t, name)
			trace := filepath.Join(t.TempDir(), "trace.json")
			var stdout, stderr bytes.Buffer
			args := []string{"-root", e.root, "-S", e.release, "-json", "-quiet", "50ms", "-trace", trace, "-v"}
			if err := run(context.Background(), args, &stdout, &stderr, e.env); err != nil {
				t.Fatalf("coldplug %v: %v\n%s", args, err, stderr.String())
			}
			var rep jsonReport
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("coldplug -json output is not JSON: %v\n%s", err, stdout.String())
			}
			m, _ := coldplugtest.Load(name)
			var got []string
			for mod := range e.kernel.Loaded() {
				got = append(got, mod)
			}
			sort.Strings(got)
			var want []string
			for mod := range m.Loaded {
				want = append(want, mod)
			}
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("modules loaded mismatch with the real machine (-want +got):\n%s\nstderr:\n%s", diff, stderr.String())
			}
			if rep.TimedOut {
				t.Errorf("timed out: %s", rep.Summary)
			}
			byName := map[string]coldplug.ModuleLoad{}
			for _, ml := range rep.Modules {
				byName[ml.Module] = ml
			}
			if sd := byName["sd_mod"]; sd.Outcome != coldplug.Loaded || sd.Modalias != "scsi:t-0x00" {
				t.Errorf("sd_mod = %+v, want loaded for scsi:t-0x00", sd)
			}
			if nf := byName["net_failover"]; nf.Via != "virtio_net" || nf.Modalias != "virtio:d00000001v00001AF4" {
				t.Errorf("net_failover = %+v, want pulled in by virtio_net for virtio:d00000001v00001AF4", nf)
			}
			if name != "6.12-q35" {
				if vp := byName["virtio_pci"]; vp.Outcome != coldplug.Loaded || !strings.HasPrefix(vp.Modalias, "pci:v00001AF4") {
					t.Errorf("virtio_pci = %+v, want loaded for a virtio PCI function", vp)
				}
			}
			// ENODEV is reported, not counted as a failure.
			var nodev int
			for _, ml := range rep.Modules {
				if ml.Outcome == coldplug.NoDevice {
					nodev++
				}
			}
			if nodev == 0 {
				t.Errorf("no module reported as no-device, but the CPU drivers fail with ENODEV")
			}
			if !strings.Contains(rep.Summary, " 0 failures,") {
				t.Errorf("summary %q, want 0 failures (ENODEV is benign)", rep.Summary)
			}
			if !strings.HasPrefix(strings.TrimSpace(lastLine(stderr.String())), "coldplug: ") || lastLine(stderr.String()) != rep.Summary {
				t.Errorf("last line of stderr %q, want the summary %q", lastLine(stderr.String()), rep.Summary)
			}
			if rep.Usage.Loads == 0 || rep.Usage.KernelLoad <= 0 {
				t.Errorf("usage = %+v, want loads and kernel time", rep.Usage)
			}
			if !strings.Contains(stderr.String(), "sd_mod loaded in") {
				t.Errorf("-v does not log sd_mod's load:\n%s", stderr.String())
			}
			tb, err := os.ReadFile(trace)
			if err != nil || !json.Valid(tb) || !bytes.Contains(tb, []byte(`"name":"sd_mod"`)) {
				t.Errorf("trace file %s: %v, valid JSON %v, want a span for sd_mod", trace, err, json.Valid(tb))
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestSummaryLineFormat(t *testing.T) {
	e := setupMachine(t, "6.1-q35")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-root", e.root, "-S", e.release, "-quiet", "20ms"}, &stdout, &stderr, e.env); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Errorf("stdout has %d lines, want only the summary:\n%s", len(lines), stdout.String())
	}
	var dev, mods, loaded, fail, unm int
	var el string
	n, err := fmt.Sscanf(lines[0], "coldplug: %d devices (%d distinct modaliases), %d modules loaded, %d failures, %d unmatched, %s elapsed",
		&dev, &mods, &loaded, &fail, &unm, &el)
	if err != nil || n != 6 {
		t.Fatalf("summary %q does not parse: %v", lines[0], err)
	}
	if dev < 60 || mods < 30 || loaded < 40 || fail != 0 || unm < 10 {
		t.Errorf("summary %q: implausible figures", lines[0])
	}
}

func TestDryRun(t *testing.T) {
	e := setupMachine(t, "6.1-q35")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-root", e.root, "-S", e.release, "-n"}, &stdout, &stderr, e.env); err != nil {
		t.Fatalf("coldplug -n: %v\n%s", err, stderr.String())
	}
	if calls := e.kernel.Calls(); len(calls) != 0 {
		t.Errorf("coldplug -n made %d system calls", len(calls))
	}
	out := stdout.String()
	for _, want := range []string{
		"would load e1000e for pci:v00008086d000010D3",
		"would load virtio_pci for pci:v00001AF4d0000100", // for whichever virtio function came first
		"would load ahci for pci:v00008086d00002922",
		"modules to load",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("coldplug -n output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sd_mod") {
		t.Errorf("coldplug -n names sd_mod, whose disk cannot exist before ahci loads:\n%s", out)
	}
}

// TestTimeBound: a finit_module that never returns does not hold the command past -timeout;
// the exit is errTimedOut (status 2) and the report names what was left.
func TestTimeBound(t *testing.T) {
	e := setupMachine(t, "6.1-q35")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before setupMachine's wait for the hung call
	e.kernel.hang["e1000e"] = release
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := run(context.Background(), []string{"-root", e.root, "-S", e.release, "-timeout", "2s", "-quiet", "20ms", "-v"}, &stdout, &stderr, e.env)
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("coldplug -timeout 2s took %v", took)
	}
	if !errors.Is(err, errTimedOut) {
		t.Errorf("coldplug with a hung load = %v, want errTimedOut", err)
	}
	for _, want := range []string{"time bound of 2s reached", "UNFINISHED pci:v00008086d000010D3"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if _, ok := e.kernel.Loaded()["sd_mod"]; !ok {
		t.Errorf("sd_mod not loaded while e1000e hung")
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no index", []string{"-root", "/nonexistent", "-S", "6.1.0-56-amd64"}, "open module index"},
		{"extra argument", []string{"-S", "x", "foo"}, "unexpected arguments"},
		{"dry watch", []string{"-n", "-watch"}, "do not go together"},
		{"bad flag", []string{"-frobnicate"}, "flag provided but not defined"},
		{"bad policy", []string{"-cpu-features", "later"}, `-cpu-features "later": want when-idle, after-devices or with-devices`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr, env{})
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Errorf("coldplug %v = %v (stderr %q), want an error mentioning %q", tc.args, err, stderr.String(), tc.want)
			}
		})
	}
}

func TestWrongRelease(t *testing.T) {
	e := setupMachine(t, "6.1-pc")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-root", e.root, "-S", e.release, "-meta",
		filepath.Join(e.root, "lib/modules", e.release, "meta.pb")}, &stdout, &stderr, e.env)
	if err != nil {
		t.Fatalf("matching release: %v", err)
	}
	err = run(context.Background(), []string{"-root", e.root, "-S", "6.12.117+deb12-amd64", "-meta",
		filepath.Join(e.root, "lib/modules", e.release, "meta.pb")}, &stdout, &stderr, e.env)
	var re *kmod.ReleaseError
	if !errors.As(err, &re) {
		t.Errorf("coldplug with a 6.1 index on 6.12 = %v, want a *kmod.ReleaseError", err)
	}
}

// TestWatchLoadsHotplug: -watch keeps loading for devices added after coldplug.
func TestWatchLoadsHotplug(t *testing.T) {
	// vmxnet3 with its real alias, which the pc machine's image lacks.
	e := setupMachine(t, "6.1-pc", kmodtest.Module{Name: "vmxnet3", Aliases: []string{"pci:v000015ADd000007B0sv*sd*bc*sc*i*"}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-root", e.root, "-S", e.release, "-quiet", "20ms", "-watch"}, &stdout, stderr, e.env)
	}()
	waitFor(t, stderr, "watching for new devices")
	// vmxnet3, which the pc machine lacks: the real PCI add datagram from the q35 capture.
	q35, _ := coldplugtest.Load("6.1-q35")
	hot := q35.AddEvent("/devices/pci0000:00/0000:00:03.0")
	if err := coldplugtest.WriteDevice(e.root, coldplugtest.Device{Path: "/devices/pci0000:00/0000:00:03.0",
		Subsystem: "pci", Modalias: "pci:v000015ADd000007B0sv000015ADsd000007B0bc02sc00i00"}, false); err != nil {
		t.Fatal(err)
	}
	e.src.SendRaw(hot)
	waitFor(t, stderr, "vmxnet3 loaded")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("coldplug -watch after cancel = %v, want nil", err)
	}
}

type syncBuffer struct {
	mu  sync.Mutex // mu guards buf.
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitFor(t *testing.T, b *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in output after 10s:\n%s", s, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLiveFromEvents checks the wiring from the uevent stream to the loader: the kernel's
// "add" event for a module that is live, while its call still waits for asynchronous probes,
// lets the modules that need it load at once, without any polling.
func TestLiveFromEvents(t *testing.T) {
	e := setupMachine(t, "6.1-pc")
	const settle = 300 * time.Millisecond
	e.kernel.Settle = settle
	e.kernel.OnLive = func(mod string) {
		e.src.SendRaw(fmt.Appendf(nil, "add@/module/%s\x00ACTION=add\x00DEVPATH=/module/%s\x00SUBSYSTEM=module\x00SEQNUM=0\x00", mod, mod))
	}
	var stdout, stderr bytes.Buffer
	args := []string{"-root", e.root, "-S", e.release, "-json", "-quiet", "50ms"}
	if err := run(context.Background(), args, &stdout, &stderr, e.env); err != nil {
		t.Fatalf("coldplug %v: %v\n%s", args, err, stderr.String())
	}
	var rep jsonReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("coldplug -json output is not JSON: %v", err)
	}
	byName := map[string]coldplug.ModuleLoad{}
	for _, ml := range rep.Modules {
		byName[ml.Module] = ml
	}
	// ata_piix needs libata, which needs scsi_mod: each starts once the one before is live.
	for _, pair := range [][2]string{{"scsi_mod", "libata"}, {"libata", "ata_piix"}} {
		dep, user := byName[pair[0]], byName[pair[1]]
		if dep.Outcome != coldplug.Loaded || user.Outcome != coldplug.Loaded {
			t.Fatalf("%s %s, %s %s: want both loaded", pair[0], dep.Outcome, pair[1], user.Outcome)
		}
		if dep.Live == 0 || dep.Live >= dep.End {
			t.Errorf("%s: live at %v, call %v-%v: want live reported before the call returned", pair[0], dep.Live, dep.Start, dep.End)
		}
		if user.Start < dep.Live || user.Start >= dep.End {
			t.Errorf("%s started at %v, want after %s was live (%v) and before its call returned (%v)", pair[1], user.Start, pair[0], dep.Live, dep.End)
		}
	}
}

// TestMonitorThread reads a /proc/PID/task fixture: the monitor thread is the one after the
// main thread's id (numeric order, not name order), with a command name that holds spaces and
// a parenthesis.
func TestMonitorThread(t *testing.T) {
	task := t.TempDir()
	stat := func(tid int, comm string, utime, stime int) {
		dir := filepath.Join(task, strconv.Itoa(tid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%d (%s) S 1 1 0 0 -1 4194560 100 0 0 0 %d %d 0 0 20 0 5 0 12 0 0\n", tid, comm, utime, stime)
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	stat(900, "coldplug", 30, 200)
	stat(1000, "cold plug)", 2, 3) // later than 901 although it sorts first as a name
	stat(901, "cold plug) x", 8, 13)
	stat(999, "coldplug", 1, 1)
	threads, user, system := monitorThread(task)
	if threads != 4 || user != 80*time.Millisecond || system != 130*time.Millisecond {
		t.Errorf("monitorThread = %d threads, %v user, %v system; want 4, 80ms, 130ms", threads, user, system)
	}
	if n, u, s := monitorThread(filepath.Join(task, "missing")); n != 0 || u != 0 || s != 0 {
		t.Errorf("monitorThread(missing) = %d, %v, %v; want zeros", n, u, s)
	}
	os.WriteFile(filepath.Join(task, "901", "stat"), []byte("901 (truncated"), 0o444)
	if n, u, s := monitorThread(task); n != 4 || u != 0 || s != 0 {
		t.Errorf("monitorThread(truncated stat) = %d, %v, %v; want 4 threads and no times", n, u, s)
	}
}
