package coldplug

import (
	"encoding/json"
	"io"
	"sort"
	"time"
)

// traceEvent is one record of the Chrome trace-event format (the "JSON Object Format" that
// chrome://tracing and https://ui.perfetto.dev open).
type traceEvent struct {
	Name  string         `json:"name"`
	Cat   string         `json:"cat,omitempty"`
	Ph    string         `json:"ph"`
	Ts    float64        `json:"ts"` // microseconds
	Dur   *float64       `json:"dur,omitempty"`
	Pid   int            `json:"pid"`
	Tid   int            `json:"tid"`
	Scope string         `json:"s,omitempty"`
	Args  map[string]any `json:"args,omitempty"`
}

type traceFile struct {
	TraceEvents     []traceEvent   `json:"traceEvents"`
	DisplayTimeUnit string         `json:"displayTimeUnit"`
	OtherData       map[string]any `json:"otherData,omitempty"`
}

// Trace process ids: one row group per kind of span.
const (
	tracePidModules = 1 // module system calls, one lane per concurrent load
	tracePidAliases = 2 // LoadAlias requests, from call to return
	tracePidSysfs   = 3 // scans and uevents
)

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// lanes assigns each [start, end) interval the lowest lane free at its start, so concurrent
// spans sit on separate rows. spans must be sorted by start.
func lanes(starts, ends []time.Duration) []int {
	var free []time.Duration // free[i] is when lane i frees up
	out := make([]int, len(starts))
	for i := range starts {
		lane := -1
		for l, t := range free {
			if t <= starts[i] {
				lane = l
				break
			}
		}
		if lane < 0 {
			lane = len(free)
			free = append(free, 0)
		}
		free[lane] = max(ends[i], starts[i]+1)
		out[i] = lane
	}
	return out
}

// WriteTrace writes the report as Chrome trace-event JSON: one span per module system call
// (with its modalias, device, dependency and outcome, and nested in it the part after the
// module was live, when the kernel only waited for asynchronous probes), one per modalias
// request, one per sysfs
// scan, and an instant per device that arrived by uevent. Open it in chrome://tracing or
// https://ui.perfetto.dev to see where boot time goes.
func (r *Report) WriteTrace(w io.Writer) error {
	var evs []traceEvent
	meta := func(pid int, name string) {
		evs = append(evs, traceEvent{Name: "process_name", Ph: "M", Pid: pid, Args: map[string]any{"name": name}})
	}
	meta(tracePidModules, "module loads (finit_module)")
	meta(tracePidAliases, "modalias requests")
	meta(tracePidSysfs, "sysfs scans and uevents")

	var mods []ModuleLoad
	for _, m := range r.Modules {
		if madeCall(m.Outcome) {
			mods = append(mods, m)
		}
	}
	sort.SliceStable(mods, func(i, j int) bool { return mods[i].Start < mods[j].Start })
	starts, ends := make([]time.Duration, len(mods)), make([]time.Duration, len(mods))
	for i, m := range mods {
		starts[i], ends[i] = m.Start, m.End
	}
	for i, lane := range lanes(starts, ends) {
		m := mods[i]
		dur := us(m.Duration())
		args := map[string]any{"outcome": m.Outcome, "modalias": m.Modalias}
		if m.Device != "" {
			args["device"] = m.Device
		}
		if m.Via != "" {
			args["via"] = m.Via
			args["softdep"] = m.Softdep
		}
		if m.Call != "" {
			args["call"] = m.Call
		}
		if m.Error != "" {
			args["error"] = m.Error
		}
		if m.Live > m.Start && m.Live < m.End {
			args["live_after_ms"] = float64(m.Live-m.Start) / float64(time.Millisecond)
		}
		evs = append(evs, traceEvent{Name: m.Module, Cat: string(m.Outcome), Ph: "X", Ts: us(m.Start),
			Dur: &dur, Pid: tracePidModules, Tid: lane, Args: args})
		if _, ok := args["live_after_ms"]; ok {
			// Nested in the call's span: the part after the module was live, when the kernel
			// only waited for asynchronous probes and the module's dependents could load.
			wait := us(m.End - m.Live)
			evs = append(evs, traceEvent{Name: "live; kernel waits for async probes", Cat: "live", Ph: "X",
				Ts: us(m.Live), Dur: &wait, Pid: tracePidModules, Tid: lane, Args: map[string]any{"module": m.Module}})
		}
	}

	var als []Alias
	for _, a := range r.Aliases {
		if a.Done > 0 && a.Status != "unmatched" {
			als = append(als, a)
		}
	}
	sort.SliceStable(als, func(i, j int) bool { return als[i].Done-als[i].Took < als[j].Done-als[j].Took })
	starts, ends = make([]time.Duration, len(als)), make([]time.Duration, len(als))
	for i, a := range als {
		starts[i], ends[i] = a.Done-a.Took, a.Done
	}
	for i, lane := range lanes(starts, ends) {
		a := als[i]
		dur := us(a.Took)
		evs = append(evs, traceEvent{Name: a.Modalias, Cat: a.Status, Ph: "X", Ts: us(starts[i]), Dur: &dur,
			Pid: tracePidAliases, Tid: lane, Args: map[string]any{"status": a.Status, "modules": a.Modules, "devices": a.Devices}})
	}

	for _, s := range r.Scans {
		dur := us(s.Took)
		evs = append(evs, traceEvent{Name: "scan (" + s.Reason + ")", Cat: "scan", Ph: "X", Ts: us(s.At), Dur: &dur,
			Pid: tracePidSysfs, Tid: 0, Args: map[string]any{"devices": s.Devices, "new": s.New, "dirs": s.Dirs}})
	}
	for _, d := range r.Devices {
		if d.Source == "uevent" {
			evs = append(evs, traceEvent{Name: "add " + d.Modalias, Cat: "uevent", Ph: "i", Ts: us(d.Seen),
				Pid: tracePidSysfs, Tid: 1, Scope: "t", Args: map[string]any{"device": d.Path}})
		}
	}
	c := r.Counts()
	f := traceFile{TraceEvents: evs, DisplayTimeUnit: "ms", OtherData: map[string]any{
		"summary": r.Summary(), "devices": c.Devices, "modaliases": c.Modaliases,
		"loaded": c.Loaded, "failures": c.Failures, "unmatched": c.Unmatched,
	}}
	enc := json.NewEncoder(w)
	return enc.Encode(f)
}
