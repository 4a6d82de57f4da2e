// coldplug loads the drivers of every device present at boot, including the devices that only
// appear once another driver is loaded, and then says it is done.
//
// Synopsis:
//
//	coldplug [-v] [-n] [-json] [-timeout D] [-quiet D] [-wait-quiet] [-watch] [-meta FILE]
//	         [-root DIR] [-S RELEASE] [-j N] [-cpu-features POLICY] [-trace FILE] [-timeline]
//	         [-cpuprofile FILE]
//
// Description:
//
// coldplug opens a uevent socket, reads every modalias under /sys/devices, and loads the
// modules they resolve to through the meta.pb index (as modload would, blacklist applied), many
// at a time. It takes in the devices that loads create (virtio devices after virtio_pci, SCSI
// disks after ahci or virtio_scsi, which need sd_mod), from uevents and from rescans of sysfs,
// until it has settled, or until the time bound. It has settled when nothing is loading and it
// has taken in every uevent the kernel has sent (/sys/kernel/uevent_seqnum), as udevadm settle
// decides; without uevents, when nothing new has appeared for the quiet period. A module that
// fails is reported and does not stop the others; ENODEV (no such hardware) is not a failure; a
// modalias that no module matches is normal and reported as unmatched. It ends with one line:
//
//	coldplug: 63 devices (41 distinct modaliases), 14 modules loaded, 0 failures, 27 unmatched, 1.2s elapsed
//
// Flags:
//
//	-v           print each module as it loads, with its time and the modalias and device that
//	             asked for it; then failures, unmatched devices and CPU time against kernel time
//	-n           dry run: print what would be loaded for the devices present now
//	-json        print the whole report as JSON on stdout (the summary goes to stderr)
//	-timeout D   stop after D even if loads are still running (default 30s); the report names
//	             them, and the exit status is 2
//	-quiet D     how long nothing must happen before coldplug is done when it cannot tell
//	             sooner from the uevent counter (default 200ms)
//	-wait-quiet  wait out the quiet period even when settled: for devices that a bus
//	             enumerates later on its own (USB behind its host controller, MMC cards)
//	-watch       after coldplug, keep running as a hotplug daemon, loading drivers for devices
//	             added later, until SIGINT or SIGTERM
//	-meta FILE   the index (default: ROOT/lib/modules/RELEASE/meta.pb)
//	-root DIR    the directory that stands for / (sys, proc, lib/modules, modprobe.d)
//	-S RELEASE   the kernel release (default: uname -r)
//	-j N         at most N modules loading at once (default: 4 per CPU, at least 8: loads
//	             mostly wait on probes, see kmod.DefaultParallel); a module that is live no
//	             longer counts, though its call still waits for other drivers' probes
//	-cpu-features POLICY
//	             when the modules of CPU features (crypto accelerators, cpufreq: cpu:
//	             modaliases) load: when-idle (default) holds them while device drivers load
//	             unless the CPUs are more than half idle, after-devices until every device
//	             driver has finished, with-devices queues them behind the first walk's drivers
//	-trace FILE  write the boot trace as Chrome trace-event JSON (chrome://tracing, Perfetto)
//	-timeline    print the boot trace as a text chart
//	-cpuprofile FILE  write coldplug's own CPU profile (go tool pprof) to FILE
//
// The exit status is 0 when coldplug finished (whatever single modules did), 2 when it stopped
// at the time bound, and 1 when it could not run at all (no index, no sysfs).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/kmodboot/kmodboot/pkg/coldplug"
	"github.com/kmodboot/kmodboot/pkg/kmod"
	"github.com/kmodboot/kmodboot/pkg/modindex"
)

const name = "coldplug"

// errTimedOut makes the exit status 2; the report has already said what happened.
var errTimedOut = errors.New("stopped at the time bound")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, env{})
	stop()
	switch {
	case errors.Is(err, errTimedOut):
		os.Exit(2)
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// env holds what tests replace: the kernel seam and the event source. Zero values mean the
// real ones.
type env struct {
	kernel kmod.Kernel
	events func() (coldplug.EventSource, func() any, error)
}

type options struct {
	verbose, dryRun, asJSON, watch, timeline bool
	waitQuiet                                bool
	timeout, quiet                           time.Duration
	meta, root, release, trace, cpuprofile   string
	cpuFeatures                              string
	jobs                                     int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, e env) error {
	var o options
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.verbose, "v", false, "print each module as it loads, then failures, unmatched devices and CPU time")
	fs.BoolVar(&o.dryRun, "n", false, "dry run: print what would be loaded")
	fs.BoolVar(&o.asJSON, "json", false, "print the report as JSON on stdout")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "stop after this long even if loads are running")
	fs.DurationVar(&o.quiet, "quiet", coldplug.DefaultQuiet, "how long nothing must happen before coldplug is done, when the uevent counter cannot tell sooner")
	fs.StringVar(&o.cpuFeatures, "cpu-features", string(coldplug.CPUWhenIdle), "when CPU-feature modules load: when-idle (while device drivers load, only if the CPUs are idle), after-devices or with-devices")
	fs.BoolVar(&o.waitQuiet, "wait-quiet", false, "wait out the quiet period even when every uevent is in (for buses that enumerate later, e.g. USB)")
	fs.BoolVar(&o.watch, "watch", false, "keep running as a hotplug daemon after coldplug")
	fs.StringVar(&o.meta, "meta", "", "module index (default: ROOT/lib/modules/RELEASE/meta.pb)")
	fs.StringVar(&o.root, "root", "/", "directory that stands for /")
	fs.StringVar(&o.release, "S", "", "kernel release (default: uname -r)")
	fs.IntVar(&o.jobs, "j", 0, "modules loading at once (default: 4 per CPU, at least 8; see kmod.DefaultParallel)")
	fs.StringVar(&o.trace, "trace", "", "write the boot trace as Chrome trace-event JSON to this file")
	fs.BoolVar(&o.timeline, "timeline", false, "print the boot trace as a text chart")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write coldplug's CPU profile to this file")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-v] [-n] [-json] [-timeout D] [-quiet D] [-wait-quiet] [-watch] [-meta FILE] [-root DIR] [-S RELEASE] [-j N] [-cpu-features POLICY] [-trace FILE] [-timeline] [-cpuprofile FILE]\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := coldplug.CPUFeaturePolicy(o.cpuFeatures).Check(); err != nil {
		return fmt.Errorf("-cpu-features %w", err)
	}
	if o.dryRun && o.watch {
		return errors.New("-n and -watch do not go together: a dry run loads nothing, so nothing new appears")
	}
	startUptime := uptime(o.root)
	cpuStart := cpuTimes()
	if o.cpuprofile != "" {
		stop, err := startProfile(o.cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}

	ix, release, err := modindex.OpenRelease(o.root, o.release, o.meta)
	if err != nil {
		return err
	}
	o.release = release
	if o.jobs <= 0 {
		o.jobs = kmod.DefaultParallel()
	}
	// The uevent socket is opened before the first scan, so that no device added in between
	// is missed. A dry run needs none: nothing it does makes devices appear.
	var src coldplug.EventSource
	var srcStats func() any
	if !o.dryRun {
		open := e.events
		if open == nil {
			open = listen
		}
		if src, srcStats, err = open(); err != nil {
			fmt.Fprintf(stderr, "%s: %v; relying on sysfs rescans alone\n", name, err)
			src = nil
		}
	}
	// With uevents, the kernel's "add" event for each module tells the loader when it is live
	// (coldplug passes it on), so the loader does not poll initstate. A lost event (receive
	// buffer overflow) costs only the head start: the module's call still returns.
	livePoll := time.Duration(0)
	if src != nil {
		livePoll = -1
	}
	l, err := kmod.New(kmod.Options{
		Index:     ix,
		Root:      o.root,
		ModuleDir: filepath.Join(o.root, "lib/modules", o.release),
		Release:   o.release,
		Kernel:    e.kernel,
		Parallel:  o.jobs,
		DryRun:    o.dryRun,
		LivePoll:  livePoll,
	})
	if err != nil {
		if src != nil {
			src.Close()
		}
		return err
	}
	for _, w := range l.Config().Warnings {
		fmt.Fprintf(stderr, "%s: %s\n", name, w)
	}

	var mu sync.Mutex // mu serializes log lines.
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, name+": "+format+"\n", args...)
	}
	quiet := o.quiet
	if o.dryRun || quiet == 0 {
		quiet = -1
	}
	opts := coldplug.Options{Root: o.root, Loader: kmodLoader{l}, Events: src, Quiet: quiet, WaitQuiet: o.waitQuiet,
		CPUFeatures: coldplug.CPUFeaturePolicy(o.cpuFeatures)}
	if o.verbose {
		opts.Logf = logf
	}
	c, err := coldplug.New(opts)
	if err != nil {
		return err
	}
	defer c.Close()
	runCtx, cancel := context.WithTimeoutCause(ctx, o.timeout, fmt.Errorf("time bound of %v reached (-timeout)", o.timeout))
	cpuSetup := processCPU() // only its user and system time are reported
	rep, err := c.Run(runCtx)
	cancel()
	if err != nil {
		return err
	}

	out := newOutput(rep, ix, o.release, startUptime, cpuStart, cpuSetup, srcStats)
	if o.trace != "" {
		if err := writeTrace(o.trace, rep); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("write the JSON report: %w", err)
		}
	}
	text := stdout
	if o.asJSON {
		text = stderr
	}
	if o.dryRun {
		for _, m := range rep.Modules {
			if m.Outcome == coldplug.DryRun {
				fmt.Fprintf(text, "%s: would load %s for %s (%s)\n", name, m.Module, m.Modalias, m.Device)
			}
		}
	}
	if o.verbose {
		rep.WriteDetails(text)
		fmt.Fprintf(text, "%s: %s\n", name, out.Usage)
	}
	if o.timeline {
		rep.WriteTimeline(text, 50)
	}
	fmt.Fprintln(text, out.Summary)
	if rep.TimedOut && !o.watch {
		return errTimedOut
	}

	if o.watch {
		if src == nil {
			return errors.New("-watch needs a uevent socket, and there is none")
		}
		fmt.Fprintf(stderr, "%s: watching for new devices\n", name)
		// Hotplug loads are always logged: a silent daemon cannot be followed.
		c.SetLogf(logf)
		return c.Watch(ctx)
	}
	return nil
}

// startProfile starts a CPU profile into file and returns the function that ends it.
func startProfile(file string) (func(), error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", file, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func writeTrace(file string, rep *coldplug.Report) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("write trace: %w", err)
	}
	if err := rep.WriteTrace(f); err != nil {
		f.Close()
		return fmt.Errorf("write trace %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write trace %s: %w", file, err)
	}
	return nil
}
