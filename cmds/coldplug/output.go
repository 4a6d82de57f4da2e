package main

import (
	"fmt"
	"runtime/metrics"
	"time"

	"github.com/kmodboot/kmodboot/pkg/coldplug"
	"github.com/kmodboot/kmodboot/pkg/modindex"
)

// output is the -json report: coldplug's report plus what only the process knows.
type output struct {
	// Summary is the summary line.
	Summary string `json:"summary"`
	*coldplug.Report
	// Index and Release are the meta.pb used and the kernel release.
	Index   string `json:"index"`
	Release string `json:"release"`
	// UptimeAtStart is the time since boot (CLOCK_BOOTTIME, /proc/uptime) when coldplug
	// started: with it, the report's times (which count from the start) convert to times since
	// boot.
	UptimeAtStart time.Duration `json:"uptime_at_start_ns,omitempty"`
	// Usage sets coldplug's own CPU time against the kernel's time loading modules.
	Usage usage `json:"usage"`
	// Socket holds the uevent socket's counters (accepted, forged, malformed, overflows).
	Socket any `json:"uevent_socket,omitempty"`
}

// usage is the benchmark's figure: how much CPU coldplug itself used while the kernel was
// loading modules for it.
type usage struct {
	// User and System are the process's CPU times (getrusage) during the run. System includes
	// the kernel's work in finit_module, which runs in the calling thread.
	User   time.Duration `json:"user_ns"`
	System time.Duration `json:"system_ns"`
	// KernelLoad is the sum of the durations of the load system calls (wall clock, counting
	// parallel loads once each) and Loads their number.
	KernelLoad time.Duration `json:"kernel_load_ns"`
	Loads      int           `json:"loads"`
	// KernelBusy is how long at least one load system call was in progress.
	KernelBusy time.Duration `json:"kernel_busy_ns"`
	// UserPercent is User as a percentage of KernelBusy: coldplug's own overhead against the
	// kernel's time loading modules for it.
	UserPercent float64 `json:"user_percent_of_kernel_busy"`
	// KernelCPU is the CPU time the kernel spent in the load system calls (summed over the
	// threads that made them; see coldplug.Report.KernelCPU), and UserPercentCPU User as a
	// percentage of it: coldplug's CPU against the kernel's CPU for it.
	KernelCPU      time.Duration `json:"kernel_cpu_ns"`
	UserPercentCPU float64       `json:"user_percent_of_kernel_cpu"`
	// MonitorUser and MonitorSystem are the part of User and System used by the Go runtime's
	// monitor thread (sysmon), in 10 ms ticks; Threads is the process's thread count at the end.
	MonitorUser   time.Duration `json:"runtime_monitor_user_ns"`
	MonitorSystem time.Duration `json:"runtime_monitor_system_ns"`
	Threads       int           `json:"threads"`
	// SetupUser and SetupSystem are the part of User and System spent before the first scan:
	// reading meta.pb and modprobe.d, opening the uevent socket.
	SetupUser   time.Duration `json:"setup_user_ns"`
	SetupSystem time.Duration `json:"setup_system_ns"`
	// GCCycles and HeapAllocs are the garbage collections completed and the bytes allocated
	// on the heap during the run (runtime/metrics).
	GCCycles   uint64 `json:"gc_cycles"`
	HeapAllocs uint64 `json:"heap_alloc_bytes"`
}

// cpuSnapshot is the process's CPU time at one moment (see cpuTimes).
type cpuSnapshot struct {
	User, System               time.Duration
	MonitorUser, MonitorSystem time.Duration
	Threads                    int
	GCCycles, HeapAllocs       uint64
}

func (u usage) String() string {
	return fmt.Sprintf("CPU %v user + %v system (Go runtime's monitor thread: %v + %v; %d threads; %d GC cycles, %.1f MiB allocated); load calls busy %v (%v summed over %d loads), the kernel's CPU in them %v; user CPU = %.1f%% of the busy time, %.1f%% of the kernel's CPU",
		u.User.Round(time.Millisecond), u.System.Round(time.Millisecond), u.MonitorUser, u.MonitorSystem, u.Threads, u.GCCycles, float64(u.HeapAllocs)/(1<<20),
		u.KernelBusy.Round(time.Millisecond), u.KernelLoad.Round(time.Millisecond), u.Loads, u.KernelCPU.Round(time.Millisecond), u.UserPercent, u.UserPercentCPU)
}

func newOutput(rep *coldplug.Report, ix *modindex.Index, release string, up time.Duration, cpuStart, cpuSetup cpuSnapshot, socket func() any) *output {
	cpuEnd := cpuTimes()
	o := &output{
		Summary:       rep.Summary(),
		Report:        rep,
		Index:         ix.Source(),
		Release:       release,
		UptimeAtStart: up,
		Usage: usage{
			User:          cpuEnd.User - cpuStart.User,
			System:        cpuEnd.System - cpuStart.System,
			KernelLoad:    rep.KernelTime(),
			KernelBusy:    rep.KernelBusy(),
			KernelCPU:     rep.KernelCPU(),
			MonitorUser:   cpuEnd.MonitorUser - cpuStart.MonitorUser,
			MonitorSystem: cpuEnd.MonitorSystem - cpuStart.MonitorSystem,
			Threads:       cpuEnd.Threads,
			SetupUser:     cpuSetup.User - cpuStart.User,
			SetupSystem:   cpuSetup.System - cpuStart.System,
			GCCycles:      cpuEnd.GCCycles - cpuStart.GCCycles,
			HeapAllocs:    cpuEnd.HeapAllocs - cpuStart.HeapAllocs,
		},
	}
	for _, m := range rep.Modules {
		if m.Call != "" {
			o.Usage.Loads++
		}
	}
	if o.Usage.KernelBusy > 0 {
		o.Usage.UserPercent = 100 * float64(o.Usage.User) / float64(o.Usage.KernelBusy)
	}
	if o.Usage.KernelCPU > 0 {
		o.Usage.UserPercentCPU = 100 * float64(o.Usage.User) / float64(o.Usage.KernelCPU)
	}
	if socket != nil {
		o.Socket = socket()
	}
	return o
}

// gcStats returns the garbage collections completed and the bytes allocated on the heap so far.
func gcStats() (cycles, allocs uint64) {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		cycles = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		allocs = s[1].Value.Uint64()
	}
	return cycles, allocs
}
