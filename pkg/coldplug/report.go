package coldplug

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Report says what a coldplug run saw and did. Times are durations since Started; in JSON they
// are nanoseconds (fields ending in _ns).
type Report struct {
	// Root is the directory that stood for /.
	Root string `json:"root"`
	// Started is when Run began.
	Started time.Time `json:"started"`
	// Elapsed is how long Run took.
	Elapsed time.Duration `json:"elapsed_ns"`
	// TimedOut is true when Run stopped at its time bound (or was cancelled) rather than
	// because it had settled ("settled") or seen a quiet period ("quiet"); StopReason says
	// which.
	TimedOut   bool   `json:"timed_out"`
	StopReason string `json:"stop_reason"`
	// Pending lists the modaliases still loading or queued when Run stopped early.
	Pending []string `json:"pending,omitempty"`
	// Devices lists every device with a modalias that was seen, sorted by path.
	Devices []Device `json:"devices"`
	// Aliases lists every distinct modalias in the order seen, with what became of it.
	Aliases []Alias `json:"aliases"`
	// Modules lists every module involved, once, in order of start: the boot trace.
	Modules []ModuleLoad `json:"modules"`
	// Scans lists the sysfs walks.
	Scans []ScanRecord `json:"scans"`
	// Events counts the uevents received.
	Events EventStats `json:"events"`
}

// Alias is one distinct modalias and what became of it.
type Alias struct {
	// Modalias is the modalias.
	Modalias string `json:"modalias"`
	// Devices lists the devices that have it.
	Devices []string `json:"devices"`
	// Source is how it was first seen: "scan" or "uevent".
	Source string `json:"source"`
	// Seen is when it was first seen; Done when its load returned; Took how long that took.
	Seen time.Duration `json:"seen_ns"`
	Done time.Duration `json:"done_ns,omitempty"`
	Took time.Duration `json:"took_ns,omitempty"`
	// Status is an Outcome ("loaded", "already", "builtin", "failed", ...), "unmatched" when no
	// module matches, or "queued"/"loading" when Run stopped before it was done.
	Status string `json:"status"`
	// Modules lists the modules it resolved to (not their dependencies).
	Modules []string `json:"modules,omitempty"`
	// Error is the failure, when Status is "failed" or "skipped".
	Error string `json:"error,omitempty"`
}

// ModuleLoad is one module in the boot trace.
type ModuleLoad struct {
	// Module is the module name.
	Module string `json:"module"`
	// Outcome says what happened.
	Outcome Outcome `json:"outcome"`
	// Modalias is the modalias whose load brought the module in, and Device a device that has
	// that modalias.
	Modalias string `json:"modalias"`
	Device   string `json:"device,omitempty"`
	// Via is the module that needed this one as a dependency ("" for a module the modalias
	// resolved to); Softdep says the need was a softdep.
	Via     string `json:"via,omitempty"`
	Softdep bool   `json:"softdep,omitempty"`
	// Call is the system call made, or "".
	Call string `json:"call,omitempty"`
	// Start and End bracket the system call.
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
	// Live is when the module was known to be live while its call was still running: from
	// then to End the call only waited for other drivers' asynchronous probes, and the
	// module's dependents were already loading. 0 when unknown.
	Live time.Duration `json:"live_ns,omitempty"`
	// CPU is the CPU time the thread that made the call used in it: the kernel's work for the
	// load (reading, relocating and checking the module, its init and the probes the init runs
	// itself), without what it handed to kernel threads. 0 when unknown.
	CPU time.Duration `json:"cpu_ns,omitempty"`
	// Error is the failure, if any.
	Error string `json:"error,omitempty"`
}

// Duration returns End - Start.
func (m ModuleLoad) Duration() time.Duration { return m.End - m.Start }

// String formats the module as -v prints it:
// "+0.412s virtio_net loaded in 38ms for virtio:d00000001v00001AF4 (/devices/...)".
func (m ModuleLoad) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "+%.3fs %s %s", m.Start.Seconds(), m.Module, m.Outcome)
	if madeCall(m.Outcome) {
		fmt.Fprintf(&b, " in %s", round(m.Duration()))
	}
	if m.Via != "" {
		kind := "dependency"
		if m.Softdep {
			kind = "softdep"
		}
		fmt.Fprintf(&b, " as %s of %s", kind, m.Via)
	}
	fmt.Fprintf(&b, " for %s", m.Modalias)
	if m.Device != "" {
		fmt.Fprintf(&b, " (%s)", m.Device)
	}
	if m.Error != "" {
		fmt.Fprintf(&b, ": %s", m.Error)
	}
	return b.String()
}

// ScanRecord is one walk of sysfs.
type ScanRecord struct {
	// Reason is why it ran: "initial", "after loads", "uevent overflow", "final".
	Reason string `json:"reason"`
	// At is when it started; Took how long it took.
	At   time.Duration `json:"at_ns"`
	Took time.Duration `json:"took_ns"`
	// Devices counts devices with a modalias; New the modaliases not seen before.
	Devices int `json:"devices"`
	New     int `json:"new"`
	// Dirs counts directories walked; Errors entries that could not be read.
	Dirs   int `json:"dirs"`
	Errors int `json:"errors,omitempty"`
	// Error is set when the walk failed as a whole.
	Error string `json:"error,omitempty"`
}

// EventStats counts uevents.
type EventStats struct {
	// Received counts events taken from the source; Adds the "add" events with a MODALIAS.
	Received int `json:"received"`
	Adds     int `json:"adds"`
	// Overflows counts ENOBUFS reports (each followed by a rescan).
	Overflows int `json:"overflows"`
	// Errors lists receive errors after which events were no longer read.
	Errors []string `json:"errors,omitempty"`
}

// Counts are the figures of the summary line.
type Counts struct {
	Devices, Modaliases, Loaded, Failures, Unmatched int
}

// Counts returns the summary figures: devices seen, distinct modaliases, modules this run
// loaded (or, in a dry run, would load), failures (modules that failed, ENODEV excepted, and
// modaliases that could not be resolved), and modaliases no module matches.
func (r *Report) Counts() Counts {
	c := Counts{Devices: len(r.Devices), Modaliases: len(r.Aliases)}
	for _, m := range r.Modules {
		switch m.Outcome {
		case Loaded, DryRun:
			c.Loaded++
		case Failed:
			c.Failures++
		}
	}
	for _, a := range r.Aliases {
		switch {
		case a.Status == "unmatched":
			c.Unmatched++
		case a.Status == string(Failed) && len(a.Modules) == 0:
			c.Failures++
		}
	}
	return c
}

// Summary returns the one line coldplug prints at the end:
// "coldplug: 63 devices (41 distinct modaliases), 14 modules loaded, 0 failures, 27 unmatched, 1.2s elapsed".
func (r *Report) Summary() string {
	c := r.Counts()
	verb := "loaded"
	if r.dryRun() {
		verb = "to load"
	}
	s := fmt.Sprintf("coldplug: %d devices (%d distinct modaliases), %d modules %s, %d failures, %d unmatched, %s elapsed",
		c.Devices, c.Modaliases, c.Loaded, verb, c.Failures, c.Unmatched, round(r.Elapsed))
	if r.TimedOut {
		s += fmt.Sprintf(" (%s; %d modaliases unfinished)", r.StopReason, len(r.Pending))
	}
	return s
}

func (r *Report) dryRun() bool {
	for _, m := range r.Modules {
		if m.Outcome == DryRun {
			return true
		}
	}
	return false
}

// KernelTime returns the sum of the durations of the load system calls: the time the kernel
// spent in finit_module/init_module on coldplug's behalf (wall clock, summed over parallel
// loads), to set against coldplug's own CPU time.
func (r *Report) KernelTime() time.Duration {
	var t time.Duration
	for _, m := range r.Modules {
		if madeCall(m.Outcome) {
			t += m.Duration()
		}
	}
	return t
}

// KernelCPU returns the CPU time the kernel spent in the load system calls, summed over the
// threads that made them (ModuleLoad.CPU).
func (r *Report) KernelCPU() time.Duration {
	var t time.Duration
	for _, m := range r.Modules {
		t += m.CPU
	}
	return t
}

// KernelBusy returns how long at least one load system call was in progress: the kernel's time
// loading modules for coldplug, counting overlapping calls once (with parallel loads
// KernelTime counts them once per call).
func (r *Report) KernelBusy() time.Duration {
	type span struct{ a, b time.Duration }
	var spans []span
	for _, m := range r.Modules {
		if madeCall(m.Outcome) && m.End > m.Start {
			spans = append(spans, span{m.Start, m.End})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].a < spans[j].a })
	var busy, end time.Duration
	for _, s := range spans {
		switch {
		case s.a >= end:
			busy += s.b - s.a
			end = s.b
		case s.b > end:
			busy += s.b - end
			end = s.b
		}
	}
	return busy
}

// WriteDetails writes what -v prints after the run: failures, unmatched modaliases with their
// devices, devices still without a driver, and unfinished loads.
func (r *Report) WriteDetails(w io.Writer) {
	for _, a := range r.Aliases {
		if a.Status == string(Failed) || a.Status == string(Skipped) && a.Error != "" {
			fmt.Fprintf(w, "coldplug: FAILED %s (%s): %s\n", a.Modalias, strings.Join(a.Devices, " "), a.Error)
		}
	}
	var unmatched []string
	for _, a := range r.Aliases {
		if a.Status == "unmatched" {
			unmatched = append(unmatched, a.Modalias)
		}
	}
	sort.Strings(unmatched)
	byAlias := map[string]Alias{}
	for _, a := range r.Aliases {
		byAlias[a.Modalias] = a
	}
	drivers := map[string]string{}
	for _, d := range r.Devices {
		drivers[d.Path] = d.Driver
	}
	for _, u := range unmatched {
		a := byAlias[u]
		var devs []string
		for _, p := range a.Devices {
			if drv := drivers[p]; drv != "" {
				devs = append(devs, p+" [bound to "+drv+"]")
			} else {
				devs = append(devs, p)
			}
		}
		fmt.Fprintf(w, "coldplug: no module for %s: %s\n", clip(u, 80), strings.Join(devs, ", "))
	}
	for _, p := range r.Pending {
		a := byAlias[p]
		fmt.Fprintf(w, "coldplug: UNFINISHED %s (%s) %s for %s\n", p, strings.Join(a.Devices, " "), a.Status, round(a.Took))
	}
}

// WriteTimeline writes the boot trace as a text chart, one row per module that made a system
// call, for a console without a browser. '#' is the call until the module was live, '-' the
// rest of the call, when the kernel only waited for other drivers' asynchronous probes:
//
//	0.000s |####---     | libata      38ms loaded <- ata_piix
func (r *Report) WriteTimeline(w io.Writer, width int) {
	var rows []ModuleLoad
	var end time.Duration
	for _, m := range r.Modules {
		if madeCall(m.Outcome) {
			rows = append(rows, m)
			end = max(end, m.End)
		}
	}
	if len(rows) == 0 || end <= 0 {
		fmt.Fprintln(w, "coldplug: no module loads to draw")
		return
	}
	if width < 10 {
		width = 10
	}
	nameW := 0
	for _, m := range rows {
		nameW = max(nameW, len(m.Module))
	}
	for _, m := range rows {
		a := int(int64(width) * int64(m.Start) / int64(end))
		b := int(int64(width) * int64(m.End) / int64(end))
		a, b = min(max(a, 0), width-1), min(max(b, a+1), width)
		live := b
		if m.Live > m.Start && m.Live < m.End {
			live = min(max(int(int64(width)*int64(m.Live)/int64(end)), a+1), b)
		}
		bar := strings.Repeat(" ", a) + strings.Repeat("#", live-a) + strings.Repeat("-", b-live) + strings.Repeat(" ", width-b)
		why := m.Modalias
		if m.Via != "" {
			why = "<- " + m.Via
		}
		fmt.Fprintf(w, "%7.3fs |%s| %-*s %8s %s %s\n", m.Start.Seconds(), bar, nameW, m.Module,
			round(m.Duration()), m.Outcome, clip(why, 50))
	}
	fmt.Fprintf(w, "%7.3fs  %s\n", end.Seconds(), "end of the last load")
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
