package coldplug

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kmodboot/kmodboot/pkg/uevent"
)

// Outcome says what happened to one module.
type Outcome string

// Outcomes a Loader reports. NoDevice is set by coldplug itself for a Failed result whose error
// is ENODEV: the driver found no hardware it handles, which is normal while coldplugging (a
// cpufreq driver on a machine without that CPU feature, say).
const (
	Loaded      Outcome = "loaded"      // this run loaded it
	Already     Outcome = "already"     // it was loaded before
	Builtin     Outcome = "builtin"     // it is compiled into the kernel
	Blacklisted Outcome = "blacklisted" // modprobe.d or the command line blacklists it
	Skipped     Outcome = "skipped"     // not loaded on purpose, or a dependency failed
	Failed      Outcome = "failed"      // loading it failed
	NoDevice    Outcome = "no-device"   // its init returned ENODEV (benign)
	DryRun      Outcome = "dry-run"     // it would be loaded (dry run)
)

// ModuleResult is what a Loader reports about one module of a request.
type ModuleResult struct {
	// Module is the module name.
	Module string
	// Outcome says what happened.
	Outcome Outcome
	// Err says why, for Failed and (optionally) Skipped.
	Err error
	// Via is the module that pulled this one in as a dependency or softdep, or "" for a module
	// the modalias resolved to directly.
	Via string
	// Softdep is true when Via pulled it in through a softdep.
	Softdep bool
	// Call is the system call made ("finit_module", ...), or "" when none was.
	Call string
	// Start and End bracket the system call (or the check that made it unnecessary).
	Start, End time.Time
	// Live is when the module was known to be live while its call was still running (the
	// kernel then waits for every asynchronous probe in the system before returning); zero
	// when unknown.
	Live time.Time
	// CPU is the CPU time the calling thread used in the system call (the kernel's work for
	// it), or 0 when unknown.
	CPU time.Duration
}

// Loader resolves a modalias to modules and loads them with their dependencies. It must be safe
// for concurrent use (coldplug calls it for many modaliases at once) and should coalesce
// concurrent loads of one module. pkg/kmod's Loader does all of this; cmds/coldplug adapts it.
type Loader interface {
	// LoadAlias loads what modalias resolves to and returns one result per module involved.
	// It returns no results and a nil error when no module matches modalias (normal for many
	// devices), and an error with no results when modalias could not be resolved at all.
	// Per-module failures are in the results; an error returned alongside results is ignored.
	LoadAlias(ctx context.Context, modalias string) ([]ModuleResult, error)
}

// LiveNoter is implemented by a Loader that can use the kernel's word that a module is live
// (its init has returned) before the module's load call returns: the kernel sends the
// module's "add" uevent at that moment, then waits for every asynchronous probe in the system
// before the call returns. coldplug passes each such event on from its uevent reader, so that
// the loader starts the module's dependents and frees its load slot at once (see
// kmod.DefaultLivePoll).
type LiveNoter interface {
	NoteLive(module string)
}

// EventSource delivers kernel uevents; *uevent.Conn is one. Receive returns uevent.ErrOverflow
// when events were lost and uevent.ErrClosed after Close; Close must unblock Receive.
type EventSource interface {
	Receive() (*uevent.Event, error)
	Close() error
}

// DefaultQuiet is the default quiet period: how long coldplug waits, with nothing loading and
// nothing new seen, before it decides that every device has shown up, when it cannot tell
// sooner (see Options.WaitQuiet). It can be short because finit_module returns only after the
// module's asynchronous probes (ATA ports, SCSI scans) have finished, so the devices a driver
// creates already exist when its load returns.
const DefaultQuiet = 200 * time.Millisecond

// DefaultAliasParallel is how many modaliases are being resolved and loaded at once unless
// Options.Parallel says otherwise. It is well above the loader's bound on load system calls,
// because most LoadAlias calls wait: on a module that another modalias is already loading
// (four virtio devices all need virtio_pci) or on a dependency. Were the two bounds equal,
// those waiting calls would hold back the load of a device that needs something else.
const DefaultAliasParallel = 64

// Options configure a Coldplug.
type Options struct {
	// Root stands for / when reading /sys; "" means "/".
	Root string
	// Loader resolves and loads modules; required.
	Loader Loader
	// Events delivers uevents; nil means rely on sysfs scans alone. Open it before calling
	// Run, so no device added between the first scan and the listener is missed.
	Events EventSource
	// Quiet is the quiet period (see DefaultQuiet); 0 means DefaultQuiet, a negative value
	// means none (one final scan, then stop: right for a dry run).
	Quiet time.Duration
	// WaitQuiet makes Run wait out the quiet period even when it knows that nothing is
	// pending. Without it, Run stops as soon as nothing is loading and it has taken in every
	// uevent the kernel has sent (the kernel's counter, <Root>/sys/kernel/uevent_seqnum, is
	// no higher than the last SEQNUM received), which is what udevadm settle waits for. A
	// device that a bus enumerates later from its own work queue (USB behind a host
	// controller, an MMC card) comes after that; WaitQuiet with a long Quiet, or Watch,
	// catches those.
	WaitQuiet bool
	// CPUFeatures says when the modules of CPU features (cpu: modaliases) load; "" means
	// CPUWhenIdle.
	CPUFeatures CPUFeaturePolicy
	// Parallel bounds concurrent LoadAlias calls; 0 means DefaultAliasParallel. The loader
	// bounds the system calls themselves: this bound only keeps a storm of modaliases from
	// becoming a storm of goroutines.
	Parallel int
	// Logf, when set, receives a line for each module load, failure and unmatched modalias as
	// it happens (coldplug -v, and -watch's log). It is called from one goroutine at a time.
	Logf func(format string, args ...any)
}

// CPUFeaturePolicy says when coldplug loads the modules of CPU features: crypto accelerators,
// cpufreq, kvm (cpu: modaliases). They drive no disk and no NIC, and their init runs crypto
// self-tests, tens to hundreds of milliseconds of CPU each.
type CPUFeaturePolicy string

// The policies. Every module is loaded before Run returns whatever the policy; only the order
// changes. A device driver that makes no progress for heldMax stops holding them back.
const (
	// CPUWhenIdle holds them while device drivers load, until every device driver has
	// finished or the CPUs are more than half idle (the drivers are waiting on hardware):
	// they then use CPU time the drivers leave, without competing with the probes of disks
	// and NICs for it.
	CPUWhenIdle CPUFeaturePolicy = "when-idle"
	// CPUAfterDevices holds them until every device driver has finished, second-stage
	// drivers included.
	CPUAfterDevices CPUFeaturePolicy = "after-devices"
	// CPUWithDevices queues them behind the device drivers the first walk found, to load as
	// load slots allow.
	CPUWithDevices CPUFeaturePolicy = "with-devices"
)

// CPUFeaturePolicies are the policies, the default first.
var CPUFeaturePolicies = []CPUFeaturePolicy{CPUWhenIdle, CPUAfterDevices, CPUWithDevices}

// Check returns an error naming p and the policies there are when p is none of them.
func (p CPUFeaturePolicy) Check() error {
	if slices.Contains(CPUFeaturePolicies, p) {
		return nil
	}
	names := make([]string, len(CPUFeaturePolicies))
	for i, q := range CPUFeaturePolicies {
		names[i] = string(q)
	}
	last := len(names) - 1
	return fmt.Errorf("%q: want %s or %s", string(p), strings.Join(names[:last], ", "), names[last])
}

// idleProbe is how often coldplug looks at the CPUs' idle time while it holds CPU features
// (CPUWhenIdle), and idleRelease the idle share over the last probe that releases them.
const (
	idleProbe   = 100 * time.Millisecond
	idleRelease = 0.5
)

// Coldplug finds every device with a modalias and loads the modules they need, again and
// again as loads make new devices appear, until nothing new appears for a quiet period.
// Use New, then Run; optionally Watch afterwards; then Close.
type Coldplug struct {
	opts  Options
	start time.Time

	// Everything below is owned by the goroutine running Run or Watch.
	devices  map[string]*Device // by path
	aliases  map[string]*aliasState
	order    []string // modaliases in the order seen
	queue    []string // modaliases waiting for a load slot
	inflight int
	modules  map[string]*ModuleLoad
	modOrder []string
	scans    []ScanRecord
	evstats  EventStats
	dirty    bool // a module was loaded since the last scan
	// eventsLive is true while uevents flow: rescans after loads are then unnecessary, as
	// every device a load creates announces itself.
	eventsLive bool
	lastScan   time.Time
	scanTook   time.Duration // duration of the last scan
	scanned    bool          // the first scan is done
	// The initial scan runs in a goroutine until initialDone delivers its result; initial
	// delivers its devices meanwhile. held keeps the deferred modaliases until every device
	// driver has finished (see deferred).
	initial     chan Device
	initialDone chan initialScan
	initialAt   time.Time
	initialNew  int
	held        []string
	// idleAt is the CPUs' time at the last idle probe (CPUWhenIdle), if idleKnown.
	idleAt    cpuStat
	idleKnown bool

	// seqKnown is true when the kernel's uevent counter could be read when Run began.
	seqKnown bool

	// The event reader hands the loop only what concerns it (see startReader): "add" events
	// with a MODALIAS and receive errors. Of every other event it keeps just the count and
	// the sequence number, and nudges seqNote, so that the loop wakes for them only when it
	// waits to settle.
	//
	// seqSeen is the highest uevent SEQNUM the reader has taken in (or the kernel's counter
	// when Run began); forwarded counts the messages the reader has passed on that the loop
	// has not taken in yet. The reader counts a message as forwarded before it raises
	// seqSeen past it, so forwarded == 0 and seqSeen >= N mean that every event up to N
	// has been taken in.
	seqSeen   atomic.Uint64
	forwarded atomic.Int64
	received  atomic.Int64
	seqNote   chan struct{}

	results  chan aliasResult
	events   chan eventMsg
	done     chan struct{} // closed by Close: workers stop sending
	readerUp bool
}

type aliasState struct {
	Alias
	started time.Time
}

type aliasResult struct {
	alias   string
	results []ModuleResult
	err     error
	start   time.Time
	end     time.Time
}

type eventMsg struct {
	ev  *uevent.Event
	err error
}

// New returns a Coldplug. Its Options.Loader is required.
func New(opts Options) (*Coldplug, error) {
	if opts.Loader == nil {
		return nil, errors.New("coldplug: no Loader given")
	}
	if opts.Quiet == 0 {
		opts.Quiet = DefaultQuiet
	}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultAliasParallel
	}
	if opts.CPUFeatures == "" {
		opts.CPUFeatures = CPUWhenIdle
	}
	if err := opts.CPUFeatures.Check(); err != nil {
		return nil, fmt.Errorf("coldplug: CPU feature policy %w", err)
	}
	return &Coldplug{
		opts:       opts,
		eventsLive: opts.Events != nil,
		devices:    map[string]*Device{},
		aliases:    map[string]*aliasState{},
		modules:    map[string]*ModuleLoad{},
		results:    make(chan aliasResult),
		events:     make(chan eventMsg, 256),
		seqNote:    make(chan struct{}, 1),
		done:       make(chan struct{}),
	}, nil
}

// Close stops the event reader (closing Options.Events) and releases the goroutines of loads
// still running; it does not wait for them (a finit_module cannot be interrupted).
func (c *Coldplug) Close() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	close(c.done)
	if c.opts.Events != nil {
		return c.opts.Events.Close()
	}
	return nil
}

// SetLogf replaces Options.Logf, e.g. to log hotplug loads in Watch but not the coldplug
// before it. Call it only while neither Run nor Watch is running.
func (c *Coldplug) SetLogf(logf func(format string, args ...any)) { c.opts.Logf = logf }

func (c *Coldplug) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf(format, args...)
	}
}

func (c *Coldplug) since(t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return t.Sub(c.start)
}

// Run coldplugs: it scans sysfs, loads what every modalias needs, takes in the devices that
// uevents and rescans reveal, and returns when it has settled (see Options.WaitQuiet), when
// nothing has happened for the quiet period, or when ctx ends (the report then says it stopped
// early and which modaliases were still loading). Failures of single modules are in the
// report, never an error; Run returns an error only when sysfs cannot be scanned at all.
func (c *Coldplug) Run(ctx context.Context) (*Report, error) {
	c.start = time.Now()
	if err := checkSysfs(c.opts.Root); err != nil {
		return nil, err
	}
	c.startReader()
	// Events before this point concern devices that exist now: the initial scan finds them.
	var seq uint64
	seq, c.seqKnown = kernelSeqnum(c.opts.Root)
	c.noteSeq(seq)
	c.startInitialScan()
	rep := c.loop(ctx)
	return rep, nil
}

// startInitialScan walks sysfs in a goroutine that hands each device to the loop as the walk
// finds it, so the first loads start while the walk goes on, and then the walk's result.
func (c *Coldplug) startInitialScan() {
	c.initial = make(chan Device, 64)
	c.initialDone = make(chan initialScan, 1)
	c.initialAt = time.Now()
	go func() {
		// Run has checked sysfs already.
		res := scanChecked(c.opts.Root, func(d Device) {
			select {
			case c.initial <- d:
			case <-c.done:
			}
		})
		c.initialDone <- initialScan{res}
	}()
}

type initialScan struct{ res *ScanResult }

// endInitialScan takes in the initial scan's result: its record, and the deferred modaliases,
// which now join the queue.
func (c *Coldplug) endInitialScan(s initialScan) {
	// The walk sent every device before its result, but the loop's select may have taken the
	// result first: take in the devices still buffered before closing the door on them.
	for drained := false; !drained; {
		select {
		case d := <-c.initial:
			if c.addDevice(d) {
				c.initialNew++
			}
		default:
			drained = true
		}
	}
	c.initial, c.initialDone = nil, nil
	c.scanned = true
	c.lastScan = time.Now()
	c.scanTook = s.res.Took
	c.scans = append(c.scans, ScanRecord{Reason: "initial", At: c.since(c.initialAt), New: c.initialNew,
		Took: s.res.Took, Devices: len(s.res.Devices), Dirs: s.res.Dirs, Errors: s.res.Errors})
	if c.opts.CPUFeatures == CPUWithDevices {
		c.releaseHeld()
	}
}

func (c *Coldplug) startReader() {
	if c.opts.Events == nil || c.readerUp {
		return
	}
	c.readerUp = true
	noter, _ := c.opts.Loader.(LiveNoter)
	go func() {
		send := func(m eventMsg) bool {
			c.forwarded.Add(1)
			if m.ev != nil {
				c.noteSeq(m.ev.Seqnum)
			}
			select {
			case c.events <- m:
				return true
			case <-c.done:
				return false
			}
		}
		for {
			ev, err := c.opts.Events.Receive()
			if err != nil && !errors.Is(err, uevent.ErrOverflow) {
				if !errors.Is(err, uevent.ErrClosed) {
					send(eventMsg{err: err})
				}
				close(c.events)
				return
			}
			if err != nil { // an overflow: the loop rescans
				if !send(eventMsg{err: err}) {
					return
				}
				continue
			}
			c.received.Add(1)
			if noter != nil {
				if m, ok := liveModule(ev); ok {
					noter.NoteLive(m)
				}
			}
			if ev.Action == uevent.ActionAdd && ev.Modalias != "" {
				if !send(eventMsg{ev: ev}) {
					return
				}
				continue
			}
			c.noteSeq(ev.Seqnum)
			select {
			case c.seqNote <- struct{}{}:
			default: // a nudge is pending already, and the loop reads seqSeen after taking it
			}
		}
	}()
}

// noteSeq raises seqSeen to n.
func (c *Coldplug) noteSeq(n uint64) {
	for {
		old := c.seqSeen.Load()
		if n <= old || c.seqSeen.CompareAndSwap(old, n) {
			return
		}
	}
}

// liveModule returns the module an event says is live: the kernel's "add" event for
// /module/NAME, sent once the module's init has returned.
func liveModule(ev *uevent.Event) (string, bool) {
	if ev == nil || ev.Action != uevent.ActionAdd || ev.Subsystem != "module" {
		return "", false
	}
	name, ok := strings.CutPrefix(ev.DevPath, "/module/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

// loop runs until quiet or ctx ends and returns the report.
func (c *Coldplug) loop(ctx context.Context) *Report {
	last := time.Now() // last activity: a new modalias, a load finishing
	events := (<-chan eventMsg)(c.events)
	if c.opts.Events == nil {
		events = nil
	}
	stop := ""
	timedOut := false
	// One timer for the quiet period or the next rescan and one for the held modaliases,
	// set anew on each turn (a stopped timer's channel delivers nothing stale).
	timer, heldTimer := time.NewTimer(time.Hour), time.NewTimer(time.Hour)
	timer.Stop()
	heldTimer.Stop()
	defer timer.Stop()
	defer heldTimer.Stop()
	for stop == "" {
		c.dispatch(ctx)
		if c.eventsLive {
			c.dirty = false
		}
		if c.dirty && c.scanned && (c.inflight == 0 || time.Since(c.lastScan) >= c.rescanInterval()) {
			c.dirty = false
			if n, _ := c.scan("after loads"); n > 0 {
				last = time.Now()
				continue
			}
		}
		var heldC <-chan time.Time
		if c.scanned && len(c.held) > 0 {
			if c.inflight == 0 && len(c.queue) == 0 && c.eventsTakenIn() || time.Since(last) >= heldMax {
				// Every device driver has finished, and the devices their loads made are
				// queued (or the drivers left are stuck): now the CPU features.
				c.releaseHeld()
				continue
			}
			wait := time.Until(last.Add(heldMax))
			if c.opts.CPUFeatures == CPUWhenIdle {
				wait = min(wait, idleProbe)
			}
			heldTimer.Reset(wait)
			heldC = heldTimer.C
		}
		var quietC, rescanC <-chan time.Time
		var seqNote <-chan struct{}
		switch {
		case !c.scanned:
			// The initial scan is still walking: it, not a timer, brings what comes next.
		case c.inflight == 0 && len(c.queue) == 0:
			if c.settled() {
				stop = "settled"
				continue
			}
			wait := time.Duration(0)
			if c.opts.Quiet > 0 {
				wait = time.Until(last.Add(c.opts.Quiet))
			}
			timer.Reset(max(wait, 0))
			quietC = timer.C
			// Events that concern no device may be all that keeps coldplug from settling.
			seqNote = c.seqNote
		case c.dirty:
			// Loads are still running, but one finished: look for the devices it made
			// without waiting for the slowest load.
			timer.Reset(max(time.Until(c.lastScan.Add(c.rescanInterval())), 0))
			rescanC = timer.C
		}
		select {
		case d := <-c.initial:
			if c.addDevice(d) {
				c.initialNew++
				last = time.Now()
			}
		case r := <-c.initialDone:
			c.endInitialScan(r)
			last = time.Now()
		case <-rescanC:
			// The rescan happens at the top of the loop.
		case <-seqNote:
			// The top of the loop looks whether coldplug has settled.
		case <-heldC:
			// After heldMax the held modaliases go at the top of the loop; before, the CPUs
			// may have been idle enough to let them go.
			if c.opts.CPUFeatures == CPUWhenIdle && c.cpusIdle() {
				c.releaseHeld()
			}
		case r := <-c.results:
			c.inflight--
			c.record(r)
			last = time.Now()
		case m, ok := <-events:
			if !ok {
				events, c.eventsLive, c.dirty = nil, false, true
				break
			}
			if c.handleEvent(m) {
				last = time.Now()
			}
		case <-quietC:
			if len(c.held) > 0 {
				// The loads are done, but the uevent counter names an event that has not
				// come (one for another network namespace never does): after the quiet
				// period, the CPU features go without it.
				c.releaseHeld()
				break
			}
			// Nothing happened for the quiet period: one last look at sysfs.
			if n, _ := c.scan("final"); n > 0 {
				last = time.Now()
				break
			}
			stop = "quiet"
		case <-ctx.Done():
			stop = fmt.Sprintf("stopped early: %v", context.Cause(ctx))
			timedOut = true
		}
		timer.Stop()
		heldTimer.Stop()
	}
	return c.report(timedOut, stop)
}

// settled reports whether coldplug may stop without waiting out the quiet period: nothing is
// loading or queued (the caller checks), uevents flow, and the loop has taken in every uevent
// the kernel has sent. The kernel numbers its uevents under one lock and broadcasts each under
// it, so every event up to the counter is already in the socket once the counter is read; an
// event this process will never receive (one for another network namespace) leaves coldplug
// unsettled, and the quiet period ends it as before.
func (c *Coldplug) settled() bool {
	if c.opts.WaitQuiet || !c.scanned || len(c.held) > 0 {
		return false
	}
	in, known := c.eventsIn()
	return known && in
}

// eventsTakenIn reports whether the loop has taken in every uevent the kernel has sent, as far
// as it can know: a load's result and the uevent of a device its driver made can both be waiting
// for the loop, and the result must not be taken as "every driver has finished" before the
// device is queued. It is true when uevents do not flow or their counter is unknown.
func (c *Coldplug) eventsTakenIn() bool {
	in, known := c.eventsIn()
	return !known || in
}

// eventsIn reports whether the loop has taken in every uevent up to the kernel's counter (in),
// and whether it can know (known: uevents flow and the counter can be read).
func (c *Coldplug) eventsIn() (in, known bool) {
	if !c.eventsLive || !c.seqKnown {
		return false, false
	}
	// In this order: once seqSeen has reached the counter, every event up to it that the
	// reader forwarded is counted in forwarded, and only this goroutine takes it back out.
	n, ok := kernelSeqnum(c.opts.Root)
	if !ok {
		return false, false
	}
	return n <= c.seqSeen.Load() && c.forwarded.Load() == 0, true
}

// dispatch starts queued loads while slots are free.
func (c *Coldplug) dispatch(ctx context.Context) {
	for len(c.queue) > 0 && c.inflight < c.opts.Parallel {
		alias := c.queue[0]
		c.queue = c.queue[1:]
		a := c.aliases[alias]
		a.Status = "loading"
		a.started = time.Now()
		c.inflight++
		go func() {
			start := time.Now()
			res, err := c.opts.Loader.LoadAlias(ctx, alias)
			select {
			case c.results <- aliasResult{alias: alias, results: res, err: err, start: start, end: time.Now()}:
			case <-c.done:
			}
		}()
	}
}

// addDevice records a device and queues its modalias if it is new. It reports whether the
// modalias was new.
func (c *Coldplug) addDevice(d Device) bool {
	if d.Modalias == "" {
		return false
	}
	if _, ok := c.devices[d.Path]; !ok {
		d.Seen = c.since(time.Now())
		c.devices[d.Path] = &d
	}
	a, ok := c.aliases[d.Modalias]
	if ok {
		if !contains(a.Devices, d.Path) {
			a.Devices = append(a.Devices, d.Path)
		}
		return false
	}
	c.aliases[d.Modalias] = &aliasState{Alias: Alias{
		Modalias: d.Modalias,
		Devices:  []string{d.Path},
		Source:   d.Source,
		Seen:     c.since(time.Now()),
		Status:   "queued",
	}}
	c.order = append(c.order, d.Modalias)
	switch {
	case c.scanned || d.Source == "uevent":
		// A device that appeared after the first scan, or that a uevent announced while it
		// ran, was created by a driver just loaded (a disk behind its controller, a virtio
		// device behind virtio_pci): it is on the critical path to a usable machine, so it
		// goes before what the first scan queued.
		c.queue = append([]string{d.Modalias}, c.queue...)
	case deferred(d.Modalias) > 0:
		c.held = append(c.held, d.Modalias)
	default:
		c.queue = append(c.queue, d.Modalias)
	}
	return true
}

// releaseHeld queues the held modaliases (the CPU features) behind the others.
func (c *Coldplug) releaseHeld() {
	c.queue, c.held = append(c.queue, c.held...), nil
}

// cpusIdle reports whether the CPUs were idle for more than idleRelease of the time since the
// previous call (false at the first call, and when <root>/proc/stat cannot be read).
func (c *Coldplug) cpusIdle() bool {
	st, ok := readCPUStat(c.opts.Root)
	if !ok {
		return false
	}
	prev, known := c.idleAt, c.idleKnown
	c.idleAt, c.idleKnown = st, true
	return known && idleShare(prev, st) > idleRelease
}

// heldMax is how long the held modaliases wait for device drivers that make no progress: if
// no load starts or finishes and no device appears for that long, the loads still running
// are stuck (a probe waiting on hardware that never answers), and the CPU features go ahead.
const heldMax = 3 * time.Second

// deferred is 1 for a modalias whose modules are held back while device drivers load (see
// CPUFeaturePolicy), else 0. It is 1 for CPU features ("cpu:type:x86,...:feature:,..."): their
// modules (crypto accelerators, cpufreq, kvm, power capping) drive no disk and no NIC, and their
// init runs the crypto self-tests, hundreds of milliseconds of CPU that would otherwise compete
// with the probes of disks and NICs (on a single CPU, or CPUs busy with other probes).
func deferred(modalias string) int {
	if strings.HasPrefix(modalias, "cpu:") {
		return 1
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// minRescanInterval is the shortest time between two rescans while loads are still running.
const minRescanInterval = 50 * time.Millisecond

// rescanInterval keeps rescans during loads to at most a fifth of the time, so a machine with a
// huge sysfs does not spend its boot walking it.
func (c *Coldplug) rescanInterval() time.Duration {
	return max(minRescanInterval, 4*c.scanTook)
}

// scan walks sysfs and queues new modaliases; it returns how many were new.
func (c *Coldplug) scan(reason string) (int, error) {
	at := time.Now()
	res, err := Scan(c.opts.Root)
	c.lastScan, c.scanTook = time.Now(), time.Since(at)
	if err != nil {
		c.scans = append(c.scans, ScanRecord{Reason: reason, At: c.since(at), Error: err.Error()})
		return 0, err
	}
	n := 0
	for _, d := range res.Devices {
		if c.addDevice(d) {
			n++
		}
	}
	c.scans = append(c.scans, ScanRecord{Reason: reason, At: c.since(at), Took: res.Took,
		Devices: len(res.Devices), New: n, Dirs: res.Dirs, Errors: res.Errors})
	return n, nil
}

// handleEvent takes in one uevent message; it reports whether it brought something new.
func (c *Coldplug) handleEvent(m eventMsg) bool {
	defer c.forwarded.Add(-1)
	switch {
	case errors.Is(m.err, uevent.ErrOverflow):
		c.evstats.Overflows++
		c.logf("uevent receive buffer overflowed: rescanning sysfs")
		n, _ := c.scan("uevent overflow")
		return n > 0
	case m.err != nil:
		c.evstats.Errors = append(c.evstats.Errors, m.err.Error())
		c.logf("uevents lost: %v; relying on sysfs rescans", m.err)
		c.eventsLive, c.dirty = false, true
		return false
	}
	ev := m.ev
	if ev.Action != uevent.ActionAdd || ev.Modalias == "" {
		return false
	}
	c.evstats.Adds++
	return c.addDevice(Device{Path: ev.DevPath, Modalias: ev.Modalias, Subsystem: ev.Subsystem, Source: "uevent"})
}

// record takes in the results of one LoadAlias call.
func (c *Coldplug) record(r aliasResult) {
	a := c.aliases[r.alias]
	a.Done = c.since(r.end)
	a.Took = r.end.Sub(r.start)
	dev := ""
	if len(a.Devices) > 0 {
		dev = a.Devices[0]
	}
	if len(r.results) == 0 {
		if r.err != nil {
			a.Status, a.Error = "failed", r.err.Error()
			c.logf("%s: %v", r.alias, r.err)
		} else {
			a.Status = "unmatched"
			c.logf("no module for %s (%s)", r.alias, dev)
		}
		return
	}
	var targets []ModuleResult
	for _, res := range r.results {
		if res.Outcome == Failed && errors.Is(res.Err, syscall.ENODEV) {
			res.Outcome = NoDevice
		}
		if res.Via == "" {
			targets = append(targets, res)
			if !contains(a.Modules, res.Module) {
				a.Modules = append(a.Modules, res.Module)
			}
		}
		c.recordModule(res, r.alias, dev)
	}
	a.Status = string(aliasOutcome(targets))
	for _, t := range targets {
		if t.Err != nil && (t.Outcome == Failed || t.Outcome == Skipped) {
			a.Error = t.Err.Error()
			break
		}
	}
}

// aliasOutcome sums up the outcomes of the modules a modalias resolved to: the most important
// one wins.
func aliasOutcome(targets []ModuleResult) Outcome {
	if len(targets) == 0 {
		return Skipped
	}
	rank := map[Outcome]int{Failed: 8, Loaded: 7, DryRun: 6, Already: 5, Builtin: 4, NoDevice: 3, Blacklisted: 2, Skipped: 1}
	best := targets[0].Outcome
	for _, t := range targets[1:] {
		if rank[t.Outcome] > rank[best] {
			best = t.Outcome
		}
	}
	return best
}

// madeCall reports whether an outcome involved a load system call.
func madeCall(o Outcome) bool { return o == Loaded || o == Failed || o == NoDevice }

// recordModule keeps one record per module: the first one that made a system call, or else the
// first one seen.
func (c *Coldplug) recordModule(res ModuleResult, alias, dev string) {
	m, ok := c.modules[res.Module]
	if ok && (madeCall(m.Outcome) || !madeCall(res.Outcome)) {
		return // a coalesced or later duplicate
	}
	rec := &ModuleLoad{
		Module:   res.Module,
		Outcome:  res.Outcome,
		Modalias: alias,
		Device:   dev,
		Via:      res.Via,
		Softdep:  res.Softdep,
		Call:     res.Call,
		Start:    c.since(res.Start),
		End:      c.since(res.End),
		Live:     c.since(res.Live),
		CPU:      res.CPU,
	}
	if res.Err != nil {
		rec.Error = res.Err.Error()
	}
	if !ok {
		c.modOrder = append(c.modOrder, res.Module)
	}
	c.modules[res.Module] = rec
	if res.Outcome == Loaded {
		c.dirty = true
	}
	switch res.Outcome {
	case Loaded, Failed, NoDevice, DryRun:
		c.logf("%s", rec)
	}
}

// report builds the report of what has happened so far.
func (c *Coldplug) report(timedOut bool, stop string) *Report {
	events := c.evstats
	events.Received = int(c.received.Load())
	rep := &Report{
		Root:       rootDir(c.opts.Root),
		Started:    c.start,
		Elapsed:    time.Since(c.start),
		TimedOut:   timedOut,
		StopReason: stop,
		Scans:      append([]ScanRecord(nil), c.scans...),
		Events:     events,
	}
	paths := make([]string, 0, len(c.devices))
	for p := range c.devices {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		d := *c.devices[p]
		d.Driver = driverOf(c.opts.Root, p)
		rep.Devices = append(rep.Devices, d)
	}
	for _, alias := range c.order {
		a := c.aliases[alias]
		al := a.Alias
		al.Devices = append([]string(nil), a.Devices...)
		al.Modules = append([]string(nil), a.Modules...)
		if al.Status == "loading" {
			al.Took = time.Since(a.started)
			rep.Pending = append(rep.Pending, alias)
		}
		if al.Status == "queued" {
			rep.Pending = append(rep.Pending, alias)
		}
		rep.Aliases = append(rep.Aliases, al)
	}
	for _, name := range c.modOrder {
		rep.Modules = append(rep.Modules, *c.modules[name])
	}
	sort.SliceStable(rep.Modules, func(i, j int) bool { return rep.Modules[i].Start < rep.Modules[j].Start })
	return rep
}

// Watch keeps loading modules for devices added after Run returned (a hotplug daemon), until
// ctx ends or the event source closes. Each load is logged through Options.Logf. It needs
// Options.Events. Calling Report afterwards describes both phases.
func (c *Coldplug) Watch(ctx context.Context) error {
	if c.opts.Events == nil {
		return errors.New("coldplug: watch needs a uevent source")
	}
	if c.start.IsZero() {
		c.start = time.Now()
	}
	c.scanned = true
	c.startReader()
	events := (<-chan eventMsg)(c.events)
	for {
		c.dispatch(ctx)
		if c.inflight == 0 && c.dirty && !c.eventsLive {
			c.dirty = false
			c.scan("after loads")
			continue
		}
		if events == nil && c.inflight == 0 && len(c.queue) == 0 {
			return errors.New("coldplug: the uevent source closed; no more hotplug events")
		}
		select {
		case r := <-c.results:
			c.inflight--
			c.record(r)
		case m, ok := <-events:
			if !ok {
				events, c.eventsLive = nil, false
				continue
			}
			c.handleEvent(m)
		case <-ctx.Done():
			return nil
		}
	}
}

// Report returns a report of everything so far; use it after Watch.
func (c *Coldplug) Report() *Report { return c.report(false, "watch ended") }
