package coldplug

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kmodboot/kmodboot/pkg/bootparam"
	"github.com/kmodboot/kmodboot/pkg/coldplug/coldplugtest"

	"github.com/kmodboot/kmodboot/pkg/uevent"
)

// run runs a Coldplug to completion with a generous bound and fails the test on error.
func run(t *testing.T, opts Options, bound time.Duration) *Report {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	rep, err := c.Run(ctx)
	if err != nil {
		t.Fatalf("Run error: %v", err)
	}
	return rep
}

func loadedModules(rep *Report) []string {
	set := map[string]bool{}
	for _, m := range rep.Modules {
		if m.Outcome == Loaded {
			set[m.Module] = true
		}
	}
	return sortedKeys(set)
}

func module(rep *Report, name string) (ModuleLoad, bool) {
	for _, m := range rep.Modules {
		if m.Module == name {
			return m, true
		}
	}
	return ModuleLoad{}, false
}

func alias(rep *Report, modalias string) (Alias, bool) {
	for _, a := range rep.Aliases {
		if a.Modalias == modalias {
			return a, true
		}
	}
	return Alias{}, false
}

// TestRunMachines coldplugs each captured machine: every driver the real machine bound must be
// loaded, including the second stage (virtio devices behind virtio_pci, SCSI disks behind ahci
// and virtio_scsi needing sd_mod), both with uevents and with sysfs rescans alone.
func TestRunMachines(t *testing.T) {
	for _, name := range machines {
		for _, withEvents := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/events=%v", name, withEvents), func(t *testing.T) {
				m := loadMachine(t, name)
				root := stage0(t, m)
				l := newFakeLoader(t, m, root)
				l.delay = 2 * time.Millisecond
				opts := Options{Root: root, Loader: l, Quiet: 50 * time.Millisecond}
				if withEvents {
					l.events = coldplugtest.NewSource()
					opts.Events = l.events
				}
				rep := run(t, opts, 20*time.Second)

				wantMods, wantDevs := m.Expected(m.DriverModules())
				for _, must := range mustLoad[name] {
					if !contains(wantMods, must) {
						t.Fatalf("fixture %s: expected modules %v lack %s; the fixture is wrong", name, wantMods, must)
					}
				}
				if diff := cmp.Diff(wantMods, loadedModules(rep)); diff != "" {
					t.Errorf("loaded modules mismatch (-want +got):\n%s", diff)
				}
				if rep.TimedOut {
					t.Errorf("TimedOut = true (%s), want a quiet end", rep.StopReason)
				}
				c := rep.Counts()
				if c.Failures != 0 {
					t.Errorf("Counts().Failures = %d, want 0", c.Failures)
				}
				if c.Devices != wantDevs {
					t.Errorf("Counts().Devices = %d, want %d", c.Devices, wantDevs)
				}
				// sd_mod comes for a SCSI disk that exists only after its host driver loaded.
				sd, ok := module(rep, "sd_mod")
				if !ok || sd.Outcome != Loaded || sd.Modalias != "scsi:t-0x00" {
					t.Fatalf("sd_mod = %+v, want loaded for scsi:t-0x00", sd)
				}
				for _, h := range []string{"ahci", "virtio_scsi", "ata_piix"} {
					// The disk appears during its host driver's load, so sd_mod can only start after it.
					if hm, ok := module(rep, h); ok && hostDrives(m, h, sd.Device) && hm.Start > sd.Start {
						t.Errorf("sd_mod started at %v, before %s (whose disk %s asked for it) started at %v", sd.Start, h, sd.Device, hm.Start)
					}
				}
				vn, ok := module(rep, "virtio_net")
				if !ok || vn.Modalias != "virtio:d00000001v00001AF4" {
					t.Errorf("virtio_net = %+v, want loaded for virtio:d00000001v00001AF4", vn)
				}
				// Second-stage devices arrive by uevent when events flow (or by a rescan that
				// happens to come first), and by rescans alone otherwise.
				fromEvents := 0
				for _, d := range rep.Devices {
					if d.Source == "uevent" {
						fromEvents++
					}
				}
				if withEvents && (fromEvents == 0 || rep.Events.Adds == 0) {
					t.Errorf("no device came from the %d uevents (%d adds)", rep.Events.Received, rep.Events.Adds)
				}
				if !withEvents && fromEvents != 0 {
					t.Errorf("%d devices came from uevents with no event source", fromEvents)
				}
				// With uevents flowing, sysfs is walked only at the start and at the end.
				if withEvents {
					for _, s := range rep.Scans {
						if s.Reason != "initial" && s.Reason != "final" {
							t.Errorf("scan %q with live uevents: %+v", s.Reason, rep.Scans)
						}
					}
				}
				// The host bridge has no driver anywhere: reported as unmatched, not as a failure.
				for _, d := range m.Final {
					if strings.HasSuffix(d.Path, "0000:00:00.0") {
						if a, _ := alias(rep, d.Modalias); a.Status != "unmatched" {
							t.Errorf("host bridge %s status %q, want unmatched", d.Modalias, a.Status)
						}
					}
				}
			})
		}
	}
}

// mustLoad pins the NIC and disk drivers each captured machine needs, so that a fixture
// regenerated wrongly cannot make TestRunMachines pass vacuously.
var mustLoad = map[string][]string{
	"6.1-q35":  {"virtio_pci", "virtio_net", "virtio_blk", "virtio_scsi", "sd_mod", "ahci", "nvme", "e1000e", "vmxnet3"},
	"6.1-pc":   {"virtio_pci", "virtio_net", "virtio_blk", "virtio_rng", "sd_mod", "ata_piix", "e1000", "8139cp"},
	"6.12-q35": {"virtio_net", "virtio_blk", "virtio_scsi", "sd_mod", "ahci", "nvme", "e1000e", "vmxnet3"},
}

// hostDrives reports whether module drove the ancestor of the device at path.
func hostDrives(m *coldplugtest.Machine, module, path string) bool {
	for p, d := range m.Final {
		if d.Module == module && strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// TestVirtioUnmatchedOn612: with virtio_pci built in, the virtio PCI functions match no module
// (modules.builtin.modinfo has no device tables) and that is normal.
func TestVirtioUnmatchedOn612(t *testing.T) {
	m := loadMachine(t, "6.12-q35")
	root := stage0(t, m)
	rep := run(t, Options{Root: root, Loader: newFakeLoader(t, m, root), Quiet: 20 * time.Millisecond}, 10*time.Second)
	a, ok := alias(rep, "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00")
	if !ok || a.Status != "unmatched" {
		t.Errorf("virtio-net PCI function = %+v, want unmatched", a)
	}
	var buf bytes.Buffer
	rep.WriteDetails(&buf)
	want := "no module for pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00: /devices/pci0000:00/0000:00:04.0"
	if !strings.Contains(buf.String(), want) {
		t.Errorf("WriteDetails does not report %q:\n%s", want, buf.String())
	}
	if _, ok := module(rep, "virtio_pci"); ok {
		t.Errorf("virtio_pci is in the trace of a kernel where it is built in")
	}
}

// TestFailuresNotFatal: a module that fails does not stop the others; ENODEV is benign.
func TestFailuresNotFatal(t *testing.T) {
	m := loadMachine(t, "6.1-q35")
	root := stage0(t, m)
	l := newFakeLoader(t, m, root)
	l.fail["e1000e"] = syscall.EINVAL
	l.table["acpi:LNXCPU:"] = []string{"acpi_cpufreq"}
	l.fail["acpi_cpufreq"] = errENODEV
	resolveErr := errors.New(`resolve "dmi:bvn...": unbalanced '['`)
	for _, d := range m.Final {
		if d.Subsystem == "dmi" {
			l.resolve[d.Modalias] = resolveErr
		}
	}
	rep := run(t, Options{Root: root, Loader: l, Quiet: 20 * time.Millisecond}, 10*time.Second)

	e, _ := module(rep, "e1000e")
	if e.Outcome != Failed || !strings.Contains(e.Error, "invalid argument") {
		t.Errorf("e1000e = %+v, want failed with EINVAL", e)
	}
	cpu, _ := module(rep, "acpi_cpufreq")
	if cpu.Outcome != NoDevice {
		t.Errorf("acpi_cpufreq = %+v, want no-device (ENODEV is benign)", cpu)
	}
	if sd, _ := module(rep, "sd_mod"); sd.Outcome != Loaded {
		t.Errorf("sd_mod = %+v, want loaded despite e1000e failing", sd)
	}
	c := rep.Counts()
	if c.Failures != 2 { // e1000e, and the dmi modalias that could not be resolved
		t.Errorf("Counts().Failures = %d, want 2 (e1000e and the unresolvable dmi modalias)", c.Failures)
	}
	var buf bytes.Buffer
	rep.WriteDetails(&buf)
	for _, want := range []string{"FAILED pci:v00008086d000010D3", "finit_module: invalid argument", "unbalanced '['"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("WriteDetails lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "acpi_cpufreq") {
		t.Errorf("WriteDetails reports the benign ENODEV of acpi_cpufreq as a failure:\n%s", buf.String())
	}
}

// TestTimeBound: a load that never returns cannot hold the boot past the bound, and the report
// says what was left.
func TestTimeBound(t *testing.T) {
	m := loadMachine(t, "6.1-q35")
	root := stage0(t, m)
	l := newFakeLoader(t, m, root)
	hung := "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00" // e1000e
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	l.hang[hung] = release
	start := time.Now()
	rep := run(t, Options{Root: root, Loader: l, Quiet: 20 * time.Millisecond}, 500*time.Millisecond)
	took := time.Since(start)
	if took > 2*time.Second {
		t.Errorf("Run took %v with a 500ms bound", took)
	}
	if !rep.TimedOut || !strings.Contains(rep.StopReason, "deadline") {
		t.Errorf("TimedOut = %v, StopReason = %q; want a deadline stop", rep.TimedOut, rep.StopReason)
	}
	// The CPU features wait for the device drivers (heldMax, longer than the bound), so they
	// are unfinished too: queued, not loading.
	var cpu string
	for _, a := range rep.Aliases {
		if strings.HasPrefix(a.Modalias, "cpu:") {
			cpu = a.Modalias
			if a.Status != "queued" {
				t.Errorf("CPU features %s while e1000e hangs, want queued", a.Status)
			}
		}
	}
	if diff := cmp.Diff([]string{hung, cpu}, rep.Pending); diff != "" {
		t.Errorf("Pending mismatch (-want +got):\n%s", diff)
	}
	if sd, _ := module(rep, "sd_mod"); sd.Outcome != Loaded {
		t.Errorf("sd_mod = %+v, want loaded while e1000e hangs", sd)
	}
	if s := rep.Summary(); !strings.Contains(s, "stopped early") || !strings.Contains(s, "2 modaliases unfinished") {
		t.Errorf("Summary() = %q, want it to say it stopped early with 2 unfinished", s)
	}
	var buf bytes.Buffer
	rep.WriteDetails(&buf)
	if !strings.Contains(buf.String(), "UNFINISHED "+hung) {
		t.Errorf("WriteDetails does not name the hung modalias:\n%s", buf.String())
	}
}

// TestOverflowRescans: when the kernel drops events, coldplug rescans at once instead of
// missing the devices those events announced.
func TestOverflowRescans(t *testing.T) {
	root := t.TempDir()
	dev := coldplugtest.Device{Path: "/devices/pci0000:00/0000:00:02.0", Subsystem: "pci", Modalias: "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"}
	writeDevice(t, root, dev)
	l := newFakeLoader(t, nil, root)
	l.table[dev.Modalias] = []string{"e1000"}
	late := "pci:v000010ECd00008139sv00001AF4sd00001100bc02sc00i00"
	l.table[late] = []string{"8139cp"}
	src := coldplugtest.NewSource()
	c, err := New(Options{Root: root, Loader: l, Events: src, Quiet: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		time.Sleep(100 * time.Millisecond)
		// A device appears and its uevent is lost in an overflow.
		writeDevice(t, root, coldplugtest.Device{Path: "/devices/pci0000:00/0000:00:05.0", Subsystem: "pci", Modalias: late})
		src.SendErr(uevent.ErrOverflow)
	}()
	rep, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a, ok := alias(rep, late)
	if !ok || a.Status != string(Loaded) {
		t.Fatalf("late device %s = %+v, want loaded", late, a)
	}
	if a.Seen > 700*time.Millisecond {
		t.Errorf("late device seen at %v: found by the final scan after the quiet period, not by an overflow rescan", a.Seen)
	}
	if rep.Events.Overflows != 1 {
		t.Errorf("Events.Overflows = %d, want 1", rep.Events.Overflows)
	}
	var found bool
	for _, s := range rep.Scans {
		if s.Reason == "uevent overflow" && s.New == 1 {
			found = true
		}
	}
	if !found {
		t.Errorf("no overflow rescan that found the device: %+v", rep.Scans)
	}
}

// TestEventsFailFallBackToRescans: when the event source breaks, the second stage is still
// found, by rescans.
func TestEventsFailFallBackToRescans(t *testing.T) {
	m := loadMachine(t, "6.1-q35")
	root := stage0(t, m)
	l := newFakeLoader(t, m, root) // devices appear silently: l.events is nil
	src := coldplugtest.NewSource()
	src.SendErr(errors.New("recvmsg: bad file descriptor"))
	rep := run(t, Options{Root: root, Loader: l, Events: src, Quiet: 50 * time.Millisecond}, 20*time.Second)
	if sd, _ := module(rep, "sd_mod"); sd.Outcome != Loaded {
		t.Errorf("sd_mod = %+v, want loaded by rescans after the event source failed", sd)
	}
	if len(rep.Events.Errors) != 1 {
		t.Errorf("Events.Errors = %v, want the receive error", rep.Events.Errors)
	}
}

// TestSettle: with uevents flowing and the kernel's uevent counter readable, coldplug stops as
// soon as nothing loads and every event the kernel sent is in, without waiting out the quiet
// period and without a final scan, and still loads every driver, second stage included. It
// does not stop while the counter is ahead of the events received, and WaitQuiet makes it
// wait the quiet period all the same.
func TestSettle(t *testing.T) {
	const quiet = 2 * time.Second
	for _, tc := range []struct {
		name      string
		ahead     bool // the counter names an event that never comes
		waitQuiet bool
		want      string // StopReason
	}{
		{name: "settled", want: "settled"},
		{name: "counter-ahead", ahead: true, want: "quiet"},
		{name: "wait-quiet", waitQuiet: true, want: "quiet"},
	} {
		for _, name := range machines {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				m := loadMachine(t, name)
				root := stage0(t, m)
				l := newFakeLoader(t, m, root)
				l.events = coldplugtest.NewSource()
				if tc.ahead {
					// The counter moves past every event only after Run has read it at its
					// start: an event numbered but never received.
					writeCounter(t, root, 0)
					l.onLoad = func(string) { writeCounter(t, root, 1<<40) }
				} else if err := l.events.NumberEvents(filepath.Join(root, "sys/kernel/uevent_seqnum")); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				rep := run(t, Options{Root: root, Loader: l, Events: l.events, Quiet: quiet, WaitQuiet: tc.waitQuiet}, 20*time.Second)
				took := time.Since(start)
				if rep.StopReason != tc.want {
					t.Errorf("StopReason = %q, want %q", rep.StopReason, tc.want)
				}
				switch {
				case tc.want == "settled" && took >= quiet:
					t.Errorf("Run took %v, want less than the quiet period %v", took, quiet)
				case tc.want == "quiet" && took < quiet:
					t.Errorf("Run took %v, want at least the quiet period %v", took, quiet)
				}
				finals := 0
				for _, s := range rep.Scans {
					if s.Reason == "final" {
						finals++
					}
				}
				if wantFinals := map[bool]int{true: 0, false: 1}[tc.want == "settled"]; finals != wantFinals {
					t.Errorf("%d final scans, want %d", finals, wantFinals)
				}
				wantMods, _ := m.Expected(m.DriverModules())
				if diff := cmp.Diff(wantMods, loadedModules(rep)); diff != "" {
					t.Errorf("loaded modules mismatch (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestSettleOnEventsWithoutDevices: the reader keeps events that concern no device from the
// loop, but when the last events before the counter are such events (a driver's "bind", a
// module's "add"), the loop must still learn that they are in and settle, not wait out the
// quiet period.
func TestSettleOnEventsWithoutDevices(t *testing.T) {
	const quiet = 2 * time.Second
	root := t.TempDir()
	dev := filepath.Join(root, "sys/devices/pci0000:00/0000:00:02.0")
	if err := os.MkdirAll(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dev, "modalias"), []byte("pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeCounter(t, root, 10)
	src := coldplugtest.NewSource()
	l := newFakeLoader(t, nil, root)
	l.table["pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"] = []string{"e1000"}
	l.onLoad = func(string) {
		// The load's events are numbered now but reach the socket a little later, after the
		// load's result.
		writeCounter(t, root, 13)
		go func() {
			time.Sleep(200 * time.Millisecond)
			for i, ev := range []string{
				"add@/module/e1000\x00ACTION=add\x00DEVPATH=/module/e1000\x00SUBSYSTEM=module\x00SEQNUM=11\x00",
				"add@/bus/pci/drivers/e1000\x00ACTION=add\x00DEVPATH=/bus/pci/drivers/e1000\x00SUBSYSTEM=drivers\x00SEQNUM=12\x00",
				"bind@/devices/pci0000:00/0000:00:02.0\x00ACTION=bind\x00DEVPATH=/devices/pci0000:00/0000:00:02.0\x00SUBSYSTEM=pci\x00DRIVER=e1000\x00SEQNUM=13\x00",
			} {
				if i > 0 {
					time.Sleep(50 * time.Millisecond)
				}
				src.SendRaw([]byte(ev))
			}
		}()
	}
	start := time.Now()
	rep := run(t, Options{Root: root, Loader: l, Events: src, Quiet: quiet}, 20*time.Second)
	took := time.Since(start)
	if rep.StopReason != "settled" || took >= quiet {
		t.Errorf("StopReason = %q after %v, want settled before the quiet period (%v)", rep.StopReason, took, quiet)
	}
	if took < 300*time.Millisecond {
		t.Errorf("settled after %v, before the last event (sent after 300 ms) was in", took)
	}
	if got := rep.Events; got.Received != 3 || got.Adds != 0 {
		t.Errorf("Events = %+v, want 3 received, 0 adds with a modalias", got)
	}
	if diff := cmp.Diff([]string{"e1000"}, loadedModules(rep)); diff != "" {
		t.Errorf("loaded modules mismatch (-want +got):\n%s", diff)
	}
}

// TestEventFiltering replays a real captured uevent stream: only "add" events with a MODALIAS
// bring devices in; bind/remove/change events, events without MODALIAS and forged or broken
// datagrams do not.
func TestEventFiltering(t *testing.T) {
	m := loadMachine(t, "6.1-q35")
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sys/devices"), 0o755)
	l := newFakeLoader(t, nil, root)
	src := coldplugtest.NewSource()
	wantAdds := map[string]bool{}
	for _, b := range m.Uevents {
		src.SendRaw(b)
		if ev, err := uevent.Parse(b); err == nil && ev.Action == "add" && ev.Modalias != "" {
			wantAdds[ev.DevPath] = true
		}
	}
	src.SendRaw([]byte("libudev\x00\xfe\xed\xca\xfe"))
	src.SendRaw([]byte("garbage"))
	rep := run(t, Options{Root: root, Loader: l, Events: src, Quiet: 100 * time.Millisecond}, 10*time.Second)
	got := map[string]bool{}
	for _, d := range rep.Devices {
		if d.Source != "uevent" {
			t.Errorf("device %s has source %q, want uevent", d.Path, d.Source)
		}
		got[d.Path] = true
	}
	if diff := cmp.Diff(wantAdds, got); diff != "" {
		t.Errorf("devices from the uevent stream mismatch (-want +got):\n%s", diff)
	}
	if len(got) < 5 {
		t.Errorf("only %d add events with MODALIAS in the stream; the fixture is wrong", len(got))
	}
	if rep.Events.Received != len(m.Uevents) || rep.Events.Adds < len(got) {
		t.Errorf("Events = %+v, want Received %d and Adds >= %d", rep.Events, len(m.Uevents), len(got))
	}
}

// TestWatch: after coldplug, a device hotplugged later gets its driver.
func TestWatch(t *testing.T) {
	m := loadMachine(t, "6.1-pc")
	root := stage0(t, m)
	l := newFakeLoader(t, m, root)
	src := coldplugtest.NewSource()
	l.events = src
	var logs []string
	c, err := New(Options{Root: root, Loader: l, Events: src, Quiet: 20 * time.Millisecond,
		Logf: func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Hotplug: a NIC model the machine did not have (vmxnet3, from the q35 capture: a real
	// PCI add from a remove and rescan).
	q35 := loadMachine(t, "6.1-q35")
	hot := q35.AddEvent("/devices/pci0000:00/0000:00:03.0")
	ev, err := uevent.Parse(hot)
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	l.table[ev.Modalias] = []string{"hotplug_nic"}
	l.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx) }()
	src.SendRaw(hot)
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		ok := l.loaded["hotplug_nic"]
		l.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Watch did not load the driver of a hotplugged device within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch = %v, want nil after cancel", err)
	}
	rep := c.Report()
	if hm, ok := module(rep, "hotplug_nic"); !ok || hm.Modalias != ev.Modalias {
		t.Errorf("hotplug_nic = %+v, want loaded for %s", hm, ev.Modalias)
	}
	if !strings.Contains(strings.Join(logs, "\n"), "hotplug_nic loaded") {
		t.Errorf("Watch did not log the load:\n%s", strings.Join(logs, "\n"))
	}
}

func TestWatchEndsWhenSourceCloses(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sys/devices"), 0o755)
	src := coldplugtest.NewSource()
	c, err := New(Options{Root: root, Loader: newFakeLoader(t, nil, root), Events: src})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Watch(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Watch = nil after its source closed, want an error saying so")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch still running 5s after Close")
	}
}

// TestParallel: loads of independent modaliases overlap.
func TestParallel(t *testing.T) {
	root := t.TempDir()
	l := newFakeLoader(t, nil, root)
	l.delay = 50 * time.Millisecond
	for i := 0; i < 16; i++ {
		d := coldplugtest.Device{Path: fmt.Sprintf("/devices/pci0000:00/0000:00:%02x.0", i+1), Subsystem: "pci",
			Modalias: fmt.Sprintf("pci:v00001234d%08Xsv00000000sd00000000bc02sc00i00", i)}
		writeDevice(t, root, d)
		l.table[d.Modalias] = []string{fmt.Sprintf("nic%d", i)}
	}
	start := time.Now()
	rep := run(t, Options{Root: root, Loader: l, Quiet: 10 * time.Millisecond, Parallel: 8}, 10*time.Second)
	took := time.Since(start)
	if n := len(loadedModules(rep)); n != 16 {
		t.Fatalf("%d modules loaded, want 16", n)
	}
	if l.maxActive < 4 || l.maxActive > 8 {
		t.Errorf("at most %d loads at once, want between 4 and the bound 8", l.maxActive)
	}
	if took > 16*50*time.Millisecond/2 {
		t.Errorf("16 loads of 50ms took %v: not parallel", took)
	}
}

// TestSecondStageFirst: a device that a load created is loaded for before the rest of what the
// first scan found, as it is on the critical path (the disk behind a controller).
func TestSecondStageFirst(t *testing.T) {
	root := t.TempDir()
	l := newFakeLoader(t, nil, root)
	src := coldplugtest.NewSource()
	for i, mod := range []string{"ahci", "e1000", "e1000e", "vmxnet3"} {
		d := coldplugtest.Device{Path: fmt.Sprintf("/devices/pci0000:00/0000:00:%02x.0", i+1), Subsystem: "pci",
			Modalias: fmt.Sprintf("pci:v00008086d%08Xsv00000000sd00000000bc01sc06i01", i)}
		writeDevice(t, root, d)
		l.table[d.Modalias] = []string{mod}
	}
	disk := "/devices/pci0000:00/0000:00:01.0/ata1/host0/target0:0:0/0:0:0:0"
	l.table["scsi:t-0x00"] = []string{"sd_mod"}
	l.onLoad = func(mod string) {
		if mod == "ahci" {
			writeDevice(t, root, coldplugtest.Device{Path: disk, Subsystem: "scsi", Modalias: "scsi:t-0x00"})
			src.SendRaw([]byte("add@" + disk + "\x00ACTION=add\x00DEVPATH=" + disk + "\x00SUBSYSTEM=scsi\x00MODALIAS=scsi:t-0x00\x00SEQNUM=900\x00"))
			time.Sleep(50 * time.Millisecond) // let the event arrive before ahci's load returns
		}
	}
	run(t, Options{Root: root, Loader: l, Events: src, Quiet: 20 * time.Millisecond, Parallel: 1}, 10*time.Second)
	// The first scan's devices load in walk order (readdir order, which sysfs does not sort);
	// sd_mod must come right after ahci, before the rest of what the scan found.
	got := append([]string(nil), l.calls...)
	if i := slices.Index(got, "ahci"); i < 0 || i+1 >= len(got) || got[i+1] != "sd_mod" {
		t.Errorf("load order %v: want sd_mod right after ahci", got)
	}
	sort.Strings(got)
	if want := []string{"ahci", "e1000", "e1000e", "sd_mod", "vmxnet3"}; !slices.Equal(got, want) {
		t.Errorf("loaded %v, want %v", got, want)
	}
}

// TestCPUFeaturesLast: modules for CPU features load after every device driver of the first
// scan, whatever the sysfs order.
func TestCPUFeaturesLast(t *testing.T) {
	root := t.TempDir()
	l := newFakeLoader(t, nil, root)
	for _, d := range []struct{ path, subsys, alias, mod string }{
		{"/devices/LNXSYSTM:00/LNXPWRBN:00", "acpi", "acpi:LNXPWRBN:", "button"},
		{"/devices/pci0000:00/0000:00:02.0", "pci", "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", "e1000e"},
		{"/devices/system/cpu/cpu0", "cpu", "cpu:type:x86,ven0002fam000Fmod006B:feature:,0000,0001", "sha256_ssse3"},
		{"/devices/pci0000:00/0000:00:1f.2", "pci", "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", "ahci"},
		{"/devices/system/cpu/cpu1", "cpu", "cpu:type:x86,ven0002fam000Fmod006B:feature:,0000,0002", "crc32c_intel"},
		{"/devices/virtual/misc/nvme-fabrics", "misc", "zzz:nvme-fabrics", "nvme_fabrics"},
	} {
		writeDevice(t, root, coldplugtest.Device{Path: d.path, Subsystem: d.subsys, Modalias: d.alias})
		l.table[d.alias] = []string{d.mod}
	}
	run(t, Options{Root: root, Loader: l, Quiet: 10 * time.Millisecond, Parallel: 1}, 10*time.Second)
	got := l.calls
	if len(got) != 6 {
		t.Fatalf("loaded %v, want 6 modules", got)
	}
	// The first scan's devices load in walk order, which sysfs does not sort: only the split
	// is fixed.
	first, last := append([]string(nil), got[:4]...), append([]string(nil), got[4:]...)
	sort.Strings(first)
	sort.Strings(last)
	if want := []string{"ahci", "button", "e1000e", "nvme_fabrics"}; !slices.Equal(first, want) {
		t.Errorf("load order %v: the first four are %v, want the device drivers %v", got, first, want)
	}
	if want := []string{"crc32c_intel", "sha256_ssse3"}; !slices.Equal(last, want) {
		t.Errorf("load order %v: the last two are %v, want the CPU-feature modules %v", got, last, want)
	}
}

// TestDependencies: modules pulled in as dependencies are in the trace with their Via.
func TestDependencies(t *testing.T) {
	root := t.TempDir()
	d := coldplugtest.Device{Path: "/devices/pci0000:00/0000:00:04.0/virtio0", Subsystem: "virtio", Modalias: "virtio:d00000001v00001AF4"}
	writeDevice(t, root, d)
	l := newFakeLoader(t, nil, root)
	l.table[d.Modalias] = []string{"virtio_net"}
	l.deps["virtio_net"] = []string{"failover", "net_failover"}
	rep := run(t, Options{Root: root, Loader: l, Quiet: 10 * time.Millisecond}, 10*time.Second)
	var got []string
	for _, m := range rep.Modules {
		got = append(got, fmt.Sprintf("%s via=%q for=%s dev=%s", m.Module, m.Via, m.Modalias, m.Device))
	}
	want := []string{
		`failover via="virtio_net" for=virtio:d00000001v00001AF4 dev=/devices/pci0000:00/0000:00:04.0/virtio0`,
		`net_failover via="virtio_net" for=virtio:d00000001v00001AF4 dev=/devices/pci0000:00/0000:00:04.0/virtio0`,
		`virtio_net via="" for=virtio:d00000001v00001AF4 dev=/devices/pci0000:00/0000:00:04.0/virtio0`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trace mismatch (-want +got):\n%s", diff)
	}
	a, _ := alias(rep, d.Modalias)
	if diff := cmp.Diff([]string{"virtio_net"}, a.Modules); diff != "" {
		t.Errorf("alias modules mismatch (-want +got):\n%s", diff)
	}
	if s := rep.Modules[0].String(); !strings.Contains(s, "failover loaded in") || !strings.Contains(s, "as dependency of virtio_net for virtio:d00000001v00001AF4") {
		t.Errorf("ModuleLoad.String() = %q", s)
	}
}

func TestDryRun(t *testing.T) {
	m := loadMachine(t, "6.1-q35")
	root := stage0(t, m)
	l := newFakeLoader(t, m, root)
	l.dryRun = true
	rep := run(t, Options{Root: root, Loader: l, Quiet: -1}, 10*time.Second)
	if len(l.calls) != 0 {
		t.Errorf("dry run made load calls: %v", l.calls)
	}
	if s := rep.Summary(); !strings.Contains(s, "modules to load") {
		t.Errorf("Summary() = %q, want 'modules to load' in a dry run", s)
	}
	// Only first-stage drivers can be known without loading anything.
	if _, ok := module(rep, "sd_mod"); ok {
		t.Errorf("dry run found sd_mod, whose disk appears only after ahci loads")
	}
	if e, _ := module(rep, "e1000e"); e.Outcome != DryRun {
		t.Errorf("e1000e = %+v, want dry-run", e)
	}
}

func TestNewNeedsLoader(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New(Options{}) = nil error, want one about the missing Loader")
	}
}

func TestRunWithoutSysfs(t *testing.T) {
	c, err := New(Options{Root: t.TempDir(), Loader: newFakeLoader(t, nil, "")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "sysfs") {
		t.Errorf("Run without sysfs = %v, want an error about sysfs", err)
	}
}

func TestSummary(t *testing.T) {
	rep := &Report{
		Elapsed: 1234567 * time.Microsecond,
		Devices: make([]Device, 63),
		Aliases: []Alias{
			{Modalias: "a", Status: "loaded", Modules: []string{"x"}},
			{Modalias: "b", Status: "unmatched"},
			{Modalias: "c", Status: "unmatched"},
			{Modalias: "d", Status: "failed"},
			{Modalias: "e", Status: "failed", Modules: []string{"y"}},
		},
		Modules: []ModuleLoad{
			{Module: "x", Outcome: Loaded, Start: 0, End: 10 * time.Millisecond},
			{Module: "z", Outcome: Loaded, Start: 5 * time.Millisecond, End: 25 * time.Millisecond, Via: "x"},
			{Module: "y", Outcome: Failed, Start: 0, End: 5 * time.Millisecond},
			{Module: "w", Outcome: NoDevice, Start: 0, End: 2 * time.Millisecond},
			{Module: "v", Outcome: Already},
		},
	}
	want := "coldplug: 63 devices (5 distinct modaliases), 2 modules loaded, 2 failures, 2 unmatched, 1.235s elapsed"
	if got := rep.Summary(); got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if got, want := rep.KernelTime(), 37*time.Millisecond; got != want {
		t.Errorf("KernelTime() = %v, want %v", got, want)
	}
	// x [0,10) z [5,25) y [0,5) w [0,2): busy from 0 to 25ms.
	if got, want := rep.KernelBusy(), 25*time.Millisecond; got != want {
		t.Errorf("KernelBusy() = %v, want %v", got, want)
	}
	rep.Modules = append(rep.Modules, ModuleLoad{Module: "u", Outcome: Loaded, Start: 30 * time.Millisecond, End: 40 * time.Millisecond})
	if got, want := rep.KernelBusy(), 35*time.Millisecond; got != want {
		t.Errorf("KernelBusy() with a gap = %v, want %v", got, want)
	}
}

func TestLanes(t *testing.T) {
	ms := time.Millisecond
	got := lanes([]time.Duration{0, 1 * ms, 2 * ms, 10 * ms, 10 * ms}, []time.Duration{5 * ms, 3 * ms, 12 * ms, 11 * ms, 20 * ms})
	want := []int{0, 1, 2, 0, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lanes mismatch (-want +got):\n%s", diff)
	}
}

func TestWriteTrace(t *testing.T) {
	m := loadMachine(t, "6.1-q35")
	root := stage0(t, m)
	l := newFakeLoader(t, m, root)
	l.delay = time.Millisecond
	l.events = coldplugtest.NewSource()
	rep := run(t, Options{Root: root, Loader: l, Events: l.events, Quiet: 20 * time.Millisecond}, 10*time.Second)
	f := writeTrace(t, rep)
	spans := map[string]bool{}
	type iv struct{ a, b float64 }
	byLane := map[int][]iv{}
	for _, e := range f.TraceEvents {
		if e.Ph == "X" && e.Pid == tracePidModules {
			spans[e.Name] = true
			for _, o := range byLane[e.Tid] {
				if e.Ts < o.b && o.a < e.Ts+e.Dur {
					t.Errorf("module spans overlap on lane %d: %s at %v+%v", e.Tid, e.Name, e.Ts, e.Dur)
				}
			}
			byLane[e.Tid] = append(byLane[e.Tid], iv{e.Ts, e.Ts + e.Dur})
			if e.Name == "sd_mod" && e.Args["modalias"] != "scsi:t-0x00" {
				t.Errorf("sd_mod span args = %v, want modalias scsi:t-0x00", e.Args)
			}
		}
	}
	wantMods, _ := m.Expected(m.DriverModules())
	if diff := cmp.Diff(wantMods, sortedKeys(spans)); diff != "" {
		t.Errorf("trace spans mismatch (-want +got):\n%s", diff)
	}
	var tl bytes.Buffer
	rep.WriteTimeline(&tl, 40)
	if !strings.Contains(tl.String(), "sd_mod") || !strings.Contains(tl.String(), "#") {
		t.Errorf("WriteTimeline output lacks sd_mod or bars:\n%s", tl.String())
	}
}

// notingLoader records what NoteLive is told.
type notingLoader struct {
	Loader
	mu    sync.Mutex
	noted []string
}

func (n *notingLoader) NoteLive(module string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.noted = append(n.noted, module)
}

// TestLiveNoted checks that coldplug passes the kernel's "add" event of each module on to a
// Loader that is a LiveNoter, and nothing else: a captured boot's whole uevent stream, plus
// events that only look like a module's.
func TestLiveNoted(t *testing.T) {
	m := loadMachine(t, "6.1-pc")
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sys/devices"), 0o755)
	l := &notingLoader{Loader: newFakeLoader(t, nil, root)}
	src := coldplugtest.NewSource()
	var want []string
	for _, b := range m.Uevents {
		src.SendRaw(b)
		if name, ok := bytes.CutPrefix(b, []byte("add@/module/")); ok {
			want = append(want, string(name[:bytes.IndexByte(name, 0)]))
		}
	}
	if len(want) < 5 {
		t.Fatalf("only %d module add events in the fixture; it is wrong", len(want))
	}
	for _, raw := range []string{
		"remove@/module/floppy\x00ACTION=remove\x00DEVPATH=/module/floppy\x00SUBSYSTEM=module\x00SEQNUM=1\x00",
		"add@/module/a/b\x00ACTION=add\x00DEVPATH=/module/a/b\x00SUBSYSTEM=module\x00SEQNUM=2\x00",
		"add@/module/\x00ACTION=add\x00DEVPATH=/module/\x00SUBSYSTEM=module\x00SEQNUM=3\x00",
		"add@/devices/module/x\x00ACTION=add\x00DEVPATH=/devices/module/x\x00SUBSYSTEM=module\x00SEQNUM=4\x00",
		"add@/module/y\x00ACTION=add\x00DEVPATH=/module/y\x00SUBSYSTEM=drivers\x00SEQNUM=5\x00",
	} {
		src.SendRaw([]byte(raw))
	}
	run(t, Options{Root: root, Loader: l, Events: src, Quiet: 100 * time.Millisecond}, 10*time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	if diff := cmp.Diff(want, l.noted); diff != "" {
		t.Errorf("NoteLive calls mismatch (-want +got):\n%s", diff)
	}
}

// traceFileJSON is what the tests read of WriteTrace's output.
type traceFileJSON struct {
	TraceEvents []struct {
		Name string         `json:"name"`
		Ph   string         `json:"ph"`
		Ts   float64        `json:"ts"`
		Dur  float64        `json:"dur"`
		Pid  int            `json:"pid"`
		Tid  int            `json:"tid"`
		Args map[string]any `json:"args"`
	} `json:"traceEvents"`
}

// writeTrace runs rep.WriteTrace and parses what it wrote.
func writeTrace(t *testing.T, rep *Report) traceFileJSON {
	t.Helper()
	var buf bytes.Buffer
	if err := rep.WriteTrace(&buf); err != nil {
		t.Fatal(err)
	}
	var f traceFileJSON
	if err := json.Unmarshal(buf.Bytes(), &f); err != nil {
		t.Fatalf("trace is not JSON: %v", err)
	}
	return f
}

// TestTraceLive checks that the trace and the timeline show when a module was live.
func TestTraceLive(t *testing.T) {
	ms := time.Millisecond
	rep := &Report{Modules: []ModuleLoad{
		{Module: "libata", Outcome: Loaded, Call: "finit_module", Start: 0, Live: 10 * ms, End: 100 * ms},
		{Module: "ahci", Outcome: Loaded, Call: "finit_module", Via: "", Start: 12 * ms, End: 100 * ms},
	}}
	f := writeTrace(t, rep)
	var lives []string
	for _, e := range f.TraceEvents {
		if e.Ph == "X" && e.Args["module"] != nil {
			lives = append(lives, fmt.Sprintf("%v %.0f+%.0f", e.Args["module"], e.Ts, e.Dur))
		}
		if e.Name == "libata" && e.Args["live_after_ms"] != 10.0 {
			t.Errorf("libata's span args = %v, want live_after_ms 10", e.Args)
		}
	}
	if want := []string{"libata 10000+90000"}; !slices.Equal(lives, want) {
		t.Errorf("live spans = %q, want %q", lives, want)
	}
	var tl bytes.Buffer
	rep.WriteTimeline(&tl, 10)
	lines := strings.Split(tl.String(), "\n")
	if !strings.Contains(lines[0], "|#---------|") || !strings.Contains(lines[1], "| #########|") {
		t.Errorf("timeline does not show libata live after a tenth of its call, ahci never:\n%s", tl.String())
	}
}

// TestCPUFeaturesAfterDevices: the modules of CPU features start only after every device
// driver, second stage included, has finished; but a device driver that is stuck holds them
// back only for heldMax.
func TestCPUFeaturesAfterDevices(t *testing.T) {
	for _, tc := range []struct{ stuck, ahead bool }{{}, {stuck: true}, {ahead: true}} {
		stuck := tc.stuck
		t.Run(fmt.Sprintf("stuck=%v/counter-ahead=%v", tc.stuck, tc.ahead), func(t *testing.T) {
			m := loadMachine(t, "6.1-q35")
			root := stage0(t, m)
			l := newFakeLoader(t, m, root)
			l.delay = 20 * time.Millisecond
			l.events = coldplugtest.NewSource()
			// Numbered as the kernel numbers them: a load's result can reach coldplug before
			// the uevent of the device it made, and only the counter tells that one is due.
			if err := l.events.NumberEvents(filepath.Join(root, "sys/kernel/uevent_seqnum")); err != nil {
				t.Fatal(err)
			}
			if tc.ahead {
				// The counter names an event that never comes: the CPU features must still
				// go, after the quiet period rather than heldMax.
				l.onLoad = func(string) { writeCounter(t, root, 1<<40) }
			}
			for _, d := range m.First {
				if strings.HasPrefix(d.Modalias, "cpu:") {
					l.table[d.Modalias] = []string{"crc32c_intel", "sha256_ssse3"}
				}
			}
			const stuckAlias = "pci:v00001B36d00000010sv00001AF4sd00001100bc01sc08i02" // QEMU's NVMe
			bound := 10 * time.Second
			if stuck {
				hang := make(chan struct{})
				l.hang[stuckAlias] = hang
				t.Cleanup(func() { close(hang) })
				bound = heldMax + 2*time.Second
			}
			start := time.Now()
			rep := run(t, Options{Root: root, Loader: l, Events: l.events, Quiet: 50 * time.Millisecond, CPUFeatures: CPUAfterDevices}, bound)
			firstCPU, lastDevice := cpuSpan(t, rep)
			if tc.ahead && firstCPU >= heldMax {
				t.Errorf("with an uevent that never comes the CPU features started at %v, want after the quiet period, not heldMax (%v)", firstCPU, heldMax)
			}
			if !stuck && firstCPU < lastDevice {
				t.Errorf("first CPU-feature module at %v, before the last device driver was done (%v)", firstCPU, lastDevice)
			}
			if stuck {
				if a, _ := alias(rep, stuckAlias); a.Status != "loading" || !rep.TimedOut {
					t.Fatalf("the stuck NVMe driver: status %q, timed out %v; want still loading at the bound", a.Status, rep.TimedOut)
				}
				if firstCPU < heldMax || firstCPU > time.Since(start) {
					t.Errorf("with a stuck driver the CPU features started at %v, want after %v without progress", firstCPU, heldMax)
				}
			}
		})
	}
}

// cpuSpan returns when the first CPU-feature module started and the last device driver ended.
func cpuSpan(t *testing.T, rep *Report) (firstCPU, lastDevice time.Duration) {
	t.Helper()
	cpus := 0
	for _, ml := range rep.Modules {
		if ml.Outcome != Loaded && ml.Outcome != NoDevice {
			continue
		}
		if strings.HasPrefix(ml.Modalias, "cpu:") {
			if cpus == 0 || ml.Start < firstCPU {
				firstCPU = ml.Start
			}
			cpus++
		} else {
			lastDevice = max(lastDevice, ml.End)
		}
	}
	if cpus == 0 {
		t.Fatalf("no CPU-feature module loaded (stop: %s)", rep.StopReason)
	}
	return firstCPU, lastDevice
}

// TestBootparamPolicies checks that kmodboot.cpu_features= on the kernel command line takes
// exactly the policies coldplug knows, which kinit passes on as -cpu-features.
func TestBootparamPolicies(t *testing.T) {
	var want []string
	for _, p := range CPUFeaturePolicies {
		want = append(want, string(p))
	}
	if !slices.Equal(bootparam.CPUFeaturePolicies, want) {
		t.Errorf("bootparam.CPUFeaturePolicies = %q, want %q", bootparam.CPUFeaturePolicies, want)
	}
	for _, p := range bootparam.CPUFeaturePolicies {
		c, err := New(Options{Root: t.TempDir(), Loader: newFakeLoader(t, nil, t.TempDir()), CPUFeatures: CPUFeaturePolicy(p)})
		if err != nil {
			t.Errorf("policy %q from the command line: %v", p, err)
			continue
		}
		c.Close()
	}
}

// TestCPUFeaturePolicies: CPUWhenIdle lets the CPU features go while device drivers still load
// if the CPUs are idle, and holds them while the CPUs are busy; CPUWithDevices lets them go
// after the first walk whatever the load.
func TestCPUFeaturePolicies(t *testing.T) {
	for _, tc := range []struct {
		policy CPUFeaturePolicy
		idle   bool // the fake /proc/stat shows idle CPUs
		during bool // CPU features must start while device drivers still load
	}{
		{CPUWhenIdle, true, true},
		{CPUWhenIdle, false, false},
		{CPUAfterDevices, true, false},
		{CPUWithDevices, false, true},
	} {
		t.Run(fmt.Sprintf("%s/idle=%v", tc.policy, tc.idle), func(t *testing.T) {
			root := t.TempDir()
			l := newFakeLoader(t, nil, root)
			l.delay = 400 * time.Millisecond
			for _, d := range []struct{ path, subsys, alias, mod string }{
				{"/devices/pci0000:00/0000:00:02.0", "pci", "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", "e1000e"},
				{"/devices/system/cpu/cpu0", "cpu", "cpu:type:x86,ven0002fam000Fmod006B:feature:,0000,0001", "sha256_ssse3"},
			} {
				writeDevice(t, root, coldplugtest.Device{Path: d.path, Subsystem: d.subsys, Modalias: d.alias})
				l.table[d.alias] = []string{d.mod}
			}
			// A /proc/stat whose counters advance as a busy or an idle machine's would.
			stat := filepath.Join(root, "proc/stat")
			os.MkdirAll(filepath.Dir(stat), 0o755)
			done := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				var busy, idle uint64
				for {
					if tc.idle {
						busy, idle = busy+1, idle+9
					} else {
						busy, idle = busy+9, idle+1
					}
					line := fmt.Sprintf("cpu  %d 0 0 %d 0 0 0 0 0 0\ncpu0 %d 0 0 %d 0 0 0 0 0 0\n", busy, idle, busy, idle)
					os.WriteFile(stat+".tmp", []byte(line), 0o644)
					os.Rename(stat+".tmp", stat)
					select {
					case <-done:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}()
			rep := run(t, Options{Root: root, Loader: l, Quiet: 10 * time.Millisecond, CPUFeatures: tc.policy}, 10*time.Second)
			close(done)
			wg.Wait()
			firstCPU, lastDevice := cpuSpan(t, rep)
			if during := firstCPU < lastDevice; during != tc.during {
				t.Errorf("first CPU-feature module at %v, last device driver done at %v: want it to start while drivers load: %v",
					firstCPU, lastDevice, tc.during)
			}
		})
	}
	if _, err := New(Options{Loader: newFakeLoader(t, nil, t.TempDir()), CPUFeatures: "sometimes"}); err == nil || !strings.Contains(err.Error(), `"sometimes"`) {
		t.Errorf("New with an unknown CPU feature policy = %v, want an error naming it", err)
	}
}

func TestReadCPUStat(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	// A real line: user nice system idle iowait irq softirq steal guest guest_nice.
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(root, "proc/stat"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cpu  4705 356 584 3699 23 0 23 0 7 0\ncpu0 4705 356 584 3699 23 0 23 0 7 0\nintr 1 2 3\n")
	a, ok := readCPUStat(root)
	if want := (cpuStat{idle: 3722, total: 4705 + 356 + 584 + 3699 + 23 + 23}); !ok || a != want {
		t.Errorf("readCPUStat = %+v, %v; want %+v (guest time is in user already)", a, ok, want)
	}
	write("cpu  4715 356 584 3729 23 0 23 0 7 0\n")
	b, _ := readCPUStat(root)
	if got := idleShare(a, b); got < 0.74 || got > 0.76 {
		t.Errorf("idleShare over 10 busy and 30 idle jiffies = %v, want 0.75", got)
	}
	if got := idleShare(b, a); got != 0 {
		t.Errorf("idleShare backwards = %v, want 0", got)
	}
	for _, bad := range []string{"", "intr 1 2\n", "cpu  1 2 x 4 5\n", "cpu 1 2\n"} {
		write(bad)
		if st, ok := readCPUStat(root); ok {
			t.Errorf("readCPUStat(%q) = %+v, want not ok", bad, st)
		}
	}
}
