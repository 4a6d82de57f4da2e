//go:build linux

// coldplugcheck runs inside a QEMU guest as the initramfs init and proves coldplug against a
// real kernel, or times it against the shell loop initramfs scripts use.
//
// Synopsis:
//
//	coldplugcheck [-mode check|coldplug|shell|shell-kmod] [-nics N] [-disks vda,sda,...]
//	              [-expect-modules LIST] [-expect-unmatched LIST] [-poweroff]
//	              [-kprofile] [-syscalls] [-spin] [-kernel-log]
//
// Description:
//
// It mounts /proc, /sys and /dev itself (nothing may load a module before it runs).
//
// -mode check runs `coldplug -json -timeline -trace FILE` and checks the result, one console
// line per check and a final count:
//
//	KMODBOOT-CHECK ok NAME (DETAILS)
//	KMODBOOT-CHECK FAIL NAME: WHY
//	KMODBOOT-CHECKS-DONE pass=P fail=F
//
// The checks: coldplug finished within its bound with no failure, and stopped because it had
// settled (every uevent the kernel sent taken in), not after a quiet period; every
// -expect-modules module is loaded; sd_mod was loaded for a scsi:t-0x00 disk and virtio_net
// for the virtio device that virtio_pci created (second stage); every -expect-unmatched
// modalias is reported as unmatched (a device whose driver is not in the image), without
// failing the run; the -nics network interfaces and -disks block devices exist. It then prints coldplug's CPU time against
// the kernel's, the Chrome trace between KMODBOOT-TRACE-BEGIN and KMODBOOT-TRACE-END, and
// coldplug's CPU profile (base64) between KMODBOOT-PROFILE-BEGIN and KMODBOOT-PROFILE-END.
//
// -mode coldplug, -mode shell and -mode shell-kmod time one way of loading drivers, from its
// start until the -nics interfaces and -disks block devices all exist ("bound") and until it
// exits ("done"): coldplug, or the loop `for m in $(cat every modalias); do modprobe -b $m;
// done` repeated until a pass finds no new modalias, run by busybox's sh with busybox's
// modprobe (shell; the image must hold /bin/busybox) or with kmod's (shell-kmod; the image must
// also hold /bin/kmod and its libraries in /usr/lib/x86_64-linux-gnu). The index files each
// modprobe reads are made first by its own depmod, untimed: modules.dep and modules.alias by
// busybox's, the binary indexes too by kmod's.
// It prints
//
//	KMODBOOT-COLDPLUG-BENCH method=M bound=S done=S modules=N [user=S system=S kernel_busy=S kernel_load=S loads=N user_pct=P monitor_user=S monitor_system=S threads=N setup_user=S events=N event_adds=N kernel_cpu=S user_pct_cpu=P gc=N alloc_mib=M startup=S] guest_busy=S guest_idle=S clocksource=NAME
//
// with times in seconds, after a line KMODBOOT-COLDPLUG-MODULES method=M m1,m2,... naming the
// modules loaded at the end (so the methods' module sets can be compared). The bracketed part
// is coldplug's own report, and startup the time from starting the coldplug process until its
// run began (process start and package init). "bound"
// is taken when the uevent that completes the set arrives (or at a 50 ms tick): the harness
// must not walk /sys every few milliseconds, which took up to a CPU-second from the method
// being timed.
//
// To see where the kernel's time goes: -kprofile (with the kernel argument profile=2) prints
// the kernel's tick profile of the timed method by function (KMODBOOT-KPROF lines; samples in
// module code count as "(modules)"), -syscalls counts the method's system calls by command,
// and for coldplug by thread (KMODBOOT-SYSCALLS lines, from a tracefs histogram), and
// -kernel-log prints the kernel log and the ftrace buffer at the end (with initcall_debug,
// trace_event=module:module_request, ...). guest_busy and guest_idle are the guest's
// CPU-seconds (all CPUs together, from /proc/stat) busy and idle between the start and
// "bound": how much of the machine the method used. clocksource is the guest kernel's
// clock: with "tsc", reading the time is a vDSO call; with another ("hpet", "acpi_pm"), which
// the kernel picks when it finds the TSC unstable under emulation, every read of the time is a
// system call.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodboot/kmodboot/pkg/uevent"
	"github.com/kmodboot/kmodboot/vmtest/internal/shellloop"
)

var (
	mode            = flag.String("mode", "check", "check, coldplug, shell or shell-kmod")
	nics            = flag.Int("nics", 0, "network interfaces (besides lo) that must appear")
	disks           = flag.String("disks", "", "comma-separated block devices that must appear (vda,sda,nvme0n1,...)")
	expectModules   = flag.String("expect-modules", "", "comma-separated modules coldplug must load")
	expectUnmatched = flag.String("expect-unmatched", "", "comma-separated modaliases coldplug must report as unmatched")
	coldplugBin     = flag.String("coldplug", "/bbin/coldplug", "the coldplug binary")
	busybox         = flag.String("busybox", "/bin/busybox", "busybox, for -mode shell and shell-kmod")
	kmodBin         = flag.String("kmod", "/bin/kmod", "kmod, for -mode shell-kmod")
	timeout         = flag.Duration("timeout", 120*time.Second, "coldplug's -timeout, and the bench's bound")
	poweroff        = flag.Bool("poweroff", os.Getpid() == 1, "power off at the end")
	coldplugArgs    = flag.String("coldplug-args", "", "more arguments for coldplug, comma-separated; NAME=VALUE items go into its environment")
	poll            = flag.Duration("poll", 0, "look for the devices every D instead of on uevents (the old harness: 2ms)")
	kprofile        = flag.Bool("kprofile", false, "reset the kernel profile (boot with profile=2) before the bench method and print it by function after")
	spinCheck       = flag.Bool("spin", false, "measure how much a fixed user-mode loop slows down per CPU-second while the method runs (see spin)")
	syscalls        = flag.Bool("syscalls", false, "count the bench method's system calls by thread and by call (a tracefs histogram on raw_syscalls:sys_enter)")
	kernelLog       = flag.Bool("kernel-log", false, "print the kernel log and the ftrace buffer at the end (boot with initcall_debug, trace_event=...)")
)

// report is the part of coldplug's -json report the checks read.
type report struct {
	Summary    string   `json:"summary"`
	TimedOut   bool     `json:"timed_out"`
	StopReason string   `json:"stop_reason"`
	Pending    []string `json:"pending"`
	Aliases    []struct {
		Modalias string   `json:"modalias"`
		Status   string   `json:"status"`
		Devices  []string `json:"devices"`
		Modules  []string `json:"modules"`
	} `json:"aliases"`
	Modules []struct {
		Module   string `json:"module"`
		Outcome  string `json:"outcome"`
		Modalias string `json:"modalias"`
		Device   string `json:"device"`
		Via      string `json:"via"`
		Start    int64  `json:"start_ns"`
		End      int64  `json:"end_ns"`
	} `json:"modules"`
	Usage struct {
		User        int64   `json:"user_ns"`
		System      int64   `json:"system_ns"`
		KernelLoad  int64   `json:"kernel_load_ns"`
		KernelBusy  int64   `json:"kernel_busy_ns"`
		Loads       int     `json:"loads"`
		UserPercent float64 `json:"user_percent_of_kernel_busy"`
		MonUser     int64   `json:"runtime_monitor_user_ns"`
		MonSystem   int64   `json:"runtime_monitor_system_ns"`
		Threads     int     `json:"threads"`
		SetupUser   int64   `json:"setup_user_ns"`
		KernelCPU   int64   `json:"kernel_cpu_ns"`
		UserPctCPU  float64 `json:"user_percent_of_kernel_cpu"`
		GCCycles    uint64  `json:"gc_cycles"`
		HeapAllocs  uint64  `json:"heap_alloc_bytes"`
	} `json:"usage"`
	UptimeAtStart int64 `json:"uptime_at_start_ns"`
	Events        struct {
		Received int `json:"received"`
		Adds     int `json:"adds"`
	} `json:"events"`
}

func main() {
	flag.Parse()
	if *mode != "spin" {
		mountAll()
	}
	switch *mode {
	case "check":
		check()
	case "coldplug", "shell", "shell-kmod":
		bench(*mode)
	case "spin":
		spin()
	default:
		fmt.Printf("KMODBOOT-CHECK FAIL setup: unknown -mode %q\n", *mode)
	}
	if *kernelLog {
		dumpKernelLog()
	}
	if *poweroff {
		unix.Sync()
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	}
}

func mountAll() {
	for _, m := range []struct{ src, dst, typ string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"}, {"tmpfs", "/tmp", "tmpfs"},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.typ, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			fmt.Printf("coldplugcheck: mount %s: %v\n", m.dst, err)
		}
	}
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// loadedModules returns the modules in /proc/modules.
func loadedModules() map[string]bool {
	out := map[string]bool{}
	b, _ := os.ReadFile("/proc/modules")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			out[f[0]] = true
		}
	}
	return out
}

// bound reports which of the wanted interfaces and disks are still missing.
func missing() []string {
	var out []string
	ents, _ := os.ReadDir("/sys/class/net")
	n := 0
	for _, e := range ents {
		if e.Name() != "lo" {
			n++
		}
	}
	if n < *nics {
		out = append(out, fmt.Sprintf("%d of %d NICs", n, *nics))
	}
	for _, d := range list(*disks) {
		if _, err := os.Stat(filepath.Join("/sys/block", d)); err != nil {
			out = append(out, d)
		}
	}
	return out
}

type checker struct{ pass, fail int }

func (c *checker) ok(name, format string, args ...any) {
	c.pass++
	fmt.Printf("KMODBOOT-CHECK ok %s (%s)\n", name, fmt.Sprintf(format, args...))
}

func (c *checker) bad(name, format string, args ...any) {
	c.fail++
	fmt.Printf("KMODBOOT-CHECK FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
}

func check() {
	var c checker
	defer func() { fmt.Printf("KMODBOOT-CHECKS-DONE pass=%d fail=%d\n", c.pass, c.fail) }()
	trace, profile := "/tmp/coldplug-trace.json", "/tmp/coldplug-cpu.pprof"
	var stdout bytes.Buffer
	cmd := exec.Command(*coldplugBin, append([]string{"-json", "-timeline", "-trace", trace, "-cpuprofile", profile,
		"-timeout", timeout.String()}, list(*coldplugArgs)...)...)
	cmd.Stdout, cmd.Stderr = &stdout, os.Stdout
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	var rep report
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		c.bad("report", "coldplug -json gave no JSON (%v; exit %v)", jerr, err)
		return
	}
	switch {
	case err != nil:
		c.bad("finished", "coldplug exit %v after %v: %s", err, took.Round(time.Millisecond), rep.Summary)
	case rep.TimedOut:
		c.bad("finished", "timed out with %v pending: %s", rep.Pending, rep.Summary)
	case !strings.Contains(rep.Summary, " 0 failures,"):
		c.bad("finished", "%s", rep.Summary)
	default:
		c.ok("finished", "%s; process %v", rep.Summary, took.Round(time.Millisecond))
	}
	// On a real kernel with uevents, coldplug knows when every event is in: it must not have
	// fallen back on waiting out a quiet period.
	if rep.StopReason != "settled" {
		c.bad("settled", "stop reason %q, want settled (every uevent the kernel sent taken in)", rep.StopReason)
	} else {
		c.ok("settled", "stopped once every uevent the kernel sent was in")
	}

	loaded := loadedModules()
	var absent []string
	for _, m := range list(*expectModules) {
		if !loaded[m] {
			absent = append(absent, m)
		}
	}
	if len(absent) > 0 {
		c.bad("modules", "not loaded: %v", absent)
	} else {
		c.ok("modules", "%d expected modules loaded, %d modules in all", len(list(*expectModules)), len(loaded))
	}

	mods := map[string]int{}
	for i, m := range rep.Modules {
		mods[m.Module] = i
	}
	second := func(name, module, modalias string, hostOf func(dev string) bool, after string) {
		i, ok := mods[module]
		if !ok {
			c.bad(name, "%s is not in coldplug's trace", module)
			return
		}
		m := rep.Modules[i]
		if m.Outcome != "loaded" || m.Modalias != modalias || !hostOf(m.Device) {
			c.bad(name, "%s: outcome %s for %s (%s), want loaded for %s", module, m.Outcome, m.Modalias, m.Device, modalias)
			return
		}
		if j, ok := mods[after]; ok && rep.Modules[j].Outcome == "loaded" && rep.Modules[j].Start > m.Start {
			c.bad(name, "%s started before %s, which made its device", module, after)
			return
		}
		c.ok(name, "%s loaded at +%.3fs for %s on %s", module, float64(m.Start)/1e9, modalias, m.Device)
	}
	if strings.Contains(*expectModules, "sd_mod") {
		second("second-stage-scsi", "sd_mod", "scsi:t-0x00", func(d string) bool { return strings.Contains(d, "/host") }, "")
	}
	if strings.Contains(*expectModules, "virtio_net") {
		second("second-stage-virtio", "virtio_net", "virtio:d00000001v00001AF4",
			func(d string) bool { return strings.Contains(d, "/virtio") }, "virtio_pci")
	}

	status := map[string]string{}
	for _, a := range rep.Aliases {
		status[a.Modalias] = a.Status
	}
	for _, u := range list(*expectUnmatched) {
		if status[u] != "unmatched" {
			c.bad("unmatched", "%s has status %q, want unmatched (reported, not fatal)", u, status[u])
		} else {
			c.ok("unmatched", "%s reported as unmatched", u)
		}
	}

	if m := missing(); len(m) > 0 {
		c.bad("devices", "missing after coldplug: %v", m)
	} else {
		c.ok("devices", "%d NICs and disks %s present", *nics, *disks)
	}

	u := rep.Usage
	fmt.Printf("KMODBOOT-COLDPLUG-USAGE user=%.3f system=%.3f kernel_busy=%.3f kernel_load=%.3f loads=%d user_pct=%.1f kernel_cpu=%.3f user_pct_cpu=%.1f\n",
		float64(u.User)/1e9, float64(u.System)/1e9, float64(u.KernelBusy)/1e9, float64(u.KernelLoad)/1e9, u.Loads, u.UserPercent,
		float64(u.KernelCPU)/1e9, u.UserPctCPU)
	if b, err := os.ReadFile(trace); err == nil {
		fmt.Printf("KMODBOOT-TRACE-BEGIN\n%s\nKMODBOOT-TRACE-END\n", bytes.TrimSpace(b))
	}
	if b, err := os.ReadFile(profile); err == nil {
		fmt.Printf("KMODBOOT-PROFILE-BEGIN\n%s\nKMODBOOT-PROFILE-END\n", base64.StdEncoding.EncodeToString(b))
	}
}

func bench(method string) {
	var cmd *exec.Cmd
	var stdout bytes.Buffer
	switch method {
	case "coldplug":
		args, env := []string{"-json", "-timeout", timeout.String()}, os.Environ()
		for _, a := range list(*coldplugArgs) {
			if !strings.HasPrefix(a, "-") && strings.Contains(a, "=") {
				env = append(env, a) // NAME=VALUE: coldplug's environment (GOMAXPROCS=1, ...)
			} else {
				args = append(args, a)
			}
		}
		cmd = exec.Command(*coldplugBin, args...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = &stdout, os.Stdout
	case "shell", "shell-kmod":
		bin, err := shellSetup(method == "shell-kmod")
		if err != nil {
			fmt.Printf("KMODBOOT-COLDPLUG-BENCH FAIL method=%s: %v\n", method, err)
			return
		}
		cmd = exec.Command(filepath.Join(bin, "sh"), "-c", shellloop.Script)
		cmd.Env = shellEnv(bin)
		if method == "shell-kmod" {
			// Debian's busybox sh runs its own applet for a bare "modprobe", whatever PATH
			// says; a path makes it exec kmod.
			cmd.Env = append(cmd.Env, "MODPROBE="+filepath.Join(bin, "modprobe"))
		}
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	}
	if *kprofile {
		if err := os.WriteFile("/proc/profile", []byte("0"), 0); err != nil {
			fmt.Printf("coldplugcheck: reset /proc/profile: %v\n", err)
		}
		defer dumpProfile()
	}
	if *syscalls {
		if stop, err := countSyscalls(); err != nil {
			fmt.Printf("KMODBOOT-SYSCALLS FAIL: %v\n", err)
		} else {
			defer stop()
		}
	}
	var spinAlone float64
	var spinner *spinProc
	if *spinCheck {
		p, err := startSpin()
		if err == nil {
			time.Sleep(300 * time.Millisecond)
			spinAlone, _ = p.stop()
			spinner, err = startSpin()
		}
		if err != nil {
			fmt.Printf("coldplugcheck: -spin: start the spin loop (%s -mode=spin): %v\n", os.Args[0], err)
		}
	}
	devEvents, stop := watchDevices()
	defer stop()
	cpu0 := guestCPU()
	boot0 := boottime()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Printf("KMODBOOT-COLDPLUG-BENCH FAIL method=%s: %v\n", method, err)
		return
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var boundAt, doneAt time.Duration
	var cpuBound cpuTimes
	var exitErr error
	// Interfaces and disks announce themselves with uevents: look when one arrives, and every
	// 50 ms in case an event was lost, rather than walking /sys every few milliseconds, which
	// would take CPU from the method being timed.
	period := 50 * time.Millisecond
	if *poll > 0 {
		period, devEvents = *poll, nil
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	deadline := time.After(*timeout)
	checkBound := func() {
		if boundAt == 0 && len(missing()) == 0 {
			boundAt, cpuBound = time.Since(start), guestCPU()
		}
	}
	for boundAt == 0 || doneAt == 0 {
		select {
		case exitErr = <-exited:
			doneAt = time.Since(start)
			exited = nil
			if boundAt == 0 && len(missing()) == 0 {
				boundAt, cpuBound = doneAt, guestCPU()
			}
			if boundAt == 0 {
				fmt.Printf("KMODBOOT-COLDPLUG-BENCH FAIL method=%s: exited (%v) after %.3fs with %v missing\n",
					method, exitErr, doneAt.Seconds(), missing())
				return
			}
		case <-tick.C:
			checkBound()
		case <-devEvents:
			checkBound()
		case <-deadline:
			fmt.Printf("KMODBOOT-COLDPLUG-BENCH FAIL method=%s: not done after %v; missing %v\n", method, *timeout, missing())
			return
		}
	}
	loaded := loadedModules()
	names := make([]string, 0, len(loaded))
	for m := range loaded {
		names = append(names, m)
	}
	sort.Strings(names)
	fmt.Printf("KMODBOOT-COLDPLUG-MODULES method=%s %s\n", method, strings.Join(names, ","))
	line := fmt.Sprintf("KMODBOOT-COLDPLUG-BENCH method=%s bound=%.3f done=%.3f modules=%d", method,
		boundAt.Seconds(), doneAt.Seconds(), len(loaded))
	if method == "coldplug" {
		var rep report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err == nil {
			u := rep.Usage
			line += fmt.Sprintf(" user=%.3f system=%.3f kernel_busy=%.3f kernel_load=%.3f loads=%d user_pct=%.1f monitor_user=%.2f monitor_system=%.2f threads=%d",
				float64(u.User)/1e9, float64(u.System)/1e9, float64(u.KernelBusy)/1e9, float64(u.KernelLoad)/1e9, u.Loads, u.UserPercent,
				float64(u.MonUser)/1e9, float64(u.MonSystem)/1e9, u.Threads)
			line += fmt.Sprintf(" setup_user=%.3f events=%d event_adds=%d kernel_cpu=%.3f user_pct_cpu=%.1f gc=%d alloc_mib=%.1f",
				float64(u.SetupUser)/1e9, rep.Events.Received, rep.Events.Adds, float64(u.KernelCPU)/1e9, u.UserPctCPU,
				u.GCCycles, float64(u.HeapAllocs)/(1<<20))
			if rep.UptimeAtStart > 0 {
				line += fmt.Sprintf(" startup=%.3f", (time.Duration(rep.UptimeAtStart) - boot0).Seconds())
			}
			fmt.Println(rep.Summary)
		}
	}
	line += fmt.Sprintf(" guest_busy=%.3f guest_idle=%.3f", cpuBound.busy-cpu0.busy, cpuBound.idle-cpu0.idle)
	if spinner != nil {
		during, user := spinner.stop()
		line += fmt.Sprintf(" spin_alone=%.0f spin_during=%.0f spin_user=%.3f", spinAlone, during, user)
	}
	if b, err := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource"); err == nil {
		line += " clocksource=" + strings.TrimSpace(string(b))
	}
	if exitErr != nil {
		line += " exit=" + strconv.Quote(exitErr.Error())
	}
	fmt.Println(line)
}

// watchDevices returns a channel that receives when a network interface or block device is
// added, and a function that stops the watch. Without a uevent socket the channel never
// receives, and the caller's ticker does the work.
func watchDevices() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	c, err := uevent.Listen(uevent.Options{})
	if err != nil {
		fmt.Printf("coldplugcheck: no uevent socket (%v); polling for devices\n", err)
		return ch, func() {}
	}
	go func() {
		for {
			ev, err := c.Receive()
			if errors.Is(err, uevent.ErrClosed) {
				return
			}
			if err != nil || ev.Action == uevent.ActionAdd && (ev.Subsystem == "net" || ev.Subsystem == "block") {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
	}()
	return ch, func() { c.Close() }
}

// boottime returns CLOCK_BOOTTIME, the clock coldplug's uptime_at_start_ns is read from.
func boottime() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return time.Duration(ts.Nano())
}

// cpuTimes is the guest's CPU time, all CPUs together, in seconds.
type cpuTimes struct{ busy, idle float64 }

// guestCPU reads the "cpu" line of /proc/stat: busy is user, nice, system, irq, softirq and
// steal; idle is idle and iowait.
func guestCPU() cpuTimes {
	b, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var t cpuTimes
	for i := 1; i < len(f) && i <= 8; i++ {
		v, _ := strconv.ParseFloat(f[i], 64)
		v /= 100 // USER_HZ
		if i == 4 || i == 5 {
			t.idle += v
		} else {
			t.busy += v
		}
	}
	return t
}

// kmodLibs is where the image holds kmod's shared libraries.
const kmodLibs = "/usr/lib/x86_64-linux-gnu"

// shellEnv is the environment of the shell loop and its tools, whose directory is bin.
func shellEnv(bin string) []string {
	return []string{"PATH=" + bin, "LD_LIBRARY_PATH=" + kmodLibs}
}

// shellSetup makes a directory of busybox applets, with busybox's modprobe and depmod or, with
// kmod, kmod's, and runs that depmod unless the index modprobe reads is there: modules.alias
// for busybox, modules.alias.bin for kmod (whose modprobe reads only the binary indexes). It
// is not timed.
func shellSetup(kmod bool) (string, error) {
	bin := "/tmp/bb"
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", err
	}
	link := func(target string, names ...string) error {
		for _, a := range names {
			os.Remove(filepath.Join(bin, a))
			if err := os.Symlink(target, filepath.Join(bin, a)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := link(*busybox, "sh", "find", "cat", "sort"); err != nil {
		return "", err
	}
	tool, index := *busybox, "modules.alias"
	if kmod {
		tool, index = *kmodBin, "modules.alias.bin"
	}
	if err := link(tool, "modprobe", "depmod"); err != nil {
		return "", err
	}
	var u unix.Utsname
	unix.Uname(&u)
	rel := unix.ByteSliceToString(u.Release[:])
	if _, err := os.Stat(filepath.Join("/lib/modules", rel, index)); err != nil {
		cmd := exec.Command(filepath.Join(bin, "depmod"))
		cmd.Env = shellEnv(bin)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s depmod: %v: %s", filepath.Base(tool), err, out)
		}
	}
	if _, err := os.Stat(filepath.Join("/lib/modules", rel, index)); err != nil {
		return "", fmt.Errorf("no %s for %s modprobe after depmod: %v", index, filepath.Base(tool), err)
	}
	if kmod {
		// The loop runs modprobe -q, which hides a kmod that cannot start at all.
		cmd := exec.Command(filepath.Join(bin, "modprobe"), "--version")
		cmd.Env = shellEnv(bin)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("kmod does not run in this image (%s and its libraries in %s): %v: %s", *kmodBin, kmodLibs, err, out)
		}
	}
	return bin, nil
}

// dumpKernelLog prints the kernel's log buffer and, when events were enabled on the command
// line (trace_event=...), the ftrace buffer, between KMODBOOT-KLOG-BEGIN and KMODBOOT-KLOG-END:
// where the kernel's time went (initcall_debug gives each module init's duration).
func dumpKernelLog() {
	fmt.Println("KMODBOOT-KLOG-BEGIN")
	if n, err := unix.Klogctl(unix.SYSLOG_ACTION_SIZE_BUFFER, nil); err == nil && n > 0 {
		buf := make([]byte, n)
		if n, err = unix.Klogctl(unix.SYSLOG_ACTION_READ_ALL, buf); err == nil {
			os.Stdout.Write(buf[:n])
		}
	}
	if err := mountTracefs(); err != nil {
		fmt.Printf("coldplugcheck: %v\n", err)
	} else if b, err := os.ReadFile(tracefs + "/trace"); err == nil {
		os.Stdout.Write(b)
	}
	fmt.Println("KMODBOOT-KLOG-END")
}

// tracefs is where mountTracefs mounts the kernel's tracing filesystem.
const tracefs = "/sys/kernel/tracing"

// mountTracefs mounts tracefs on /sys/kernel/tracing unless it is there already.
func mountTracefs() error {
	os.MkdirAll(tracefs, 0o755)
	if err := unix.Mount("tracefs", tracefs, "tracefs", 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount tracefs on %s (does the kernel have CONFIG_TRACING?): %w", tracefs, err)
	}
	return nil
}

// dumpProfile prints the kernel's profile (/proc/profile, boot with profile=2) by function,
// from /proc/kallsyms: where the kernel spent its time. Samples in modules count in the last
// bucket, "(modules)".
func dumpProfile() {
	b, err := os.ReadFile("/proc/profile")
	if err != nil || len(b) < 8 {
		fmt.Printf("coldplugcheck: /proc/profile: %v\n", err)
		return
	}
	ks, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		fmt.Printf("coldplugcheck: /proc/kallsyms: %v\n", err)
		return
	}
	total, funcs := kernelProfile(b, string(ks))
	fmt.Printf("KMODBOOT-KPROF total=%d samples\n", total)
	for i, f := range funcs {
		if i == 60 {
			break
		}
		fmt.Printf("KMODBOOT-KPROF %6d %5.1f%% %s (hottest +%#x: %d)\n", f.samples, 100*float64(f.samples)/float64(total), f.name, f.hotOffset, f.hotSamples)
	}
}

// profFunc is one function's share of the kernel profile: its samples, and the offset in it
// with the most.
type profFunc struct {
	name       string
	samples    uint64
	hotOffset  uint64
	hotSamples uint64
}

// kernelProfile adds up a /proc/profile image (a bucket size, then one 32-bit little-endian
// count per bucket of text from _stext, then the modules' bucket) by the function of
// kallsyms (/proc/kallsyms text) each bucket falls in, most samples first.
func kernelProfile(profile []byte, kallsyms string) (total uint64, funcs []profFunc) {
	type sym struct {
		addr uint64
		name string
	}
	var syms []sym
	var stext uint64
	for _, l := range strings.Split(kallsyms, "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue // not a kernel symbol: a module's has "[name]" after it (its samples are in the last bucket)
		}
		a, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil {
			continue
		}
		if f[2] == "_stext" {
			stext = a
		}
		syms = append(syms, sym{a, f[2]})
	}
	sort.Slice(syms, func(i, j int) bool { return syms[i].addr < syms[j].addr })
	n := len(profile) / 4
	if n < 2 {
		return 0, nil
	}
	word := func(i int) uint64 { return uint64(binary.LittleEndian.Uint32(profile[4*i:])) }
	step := word(0) // bytes per bucket
	byName := map[string]*profFunc{}
	add := func(name string, off, v uint64) {
		f := byName[name]
		if f == nil {
			f = &profFunc{name: name}
			byName[name] = f
		}
		f.samples += v
		if v > f.hotSamples {
			f.hotOffset, f.hotSamples = off, v
		}
	}
	for i := 1; i < n; i++ {
		v := word(i)
		if v == 0 {
			continue
		}
		total += v
		if i == n-1 {
			add("(modules)", 0, v)
			continue
		}
		pc := stext + uint64(i-1)*step
		k := sort.Search(len(syms), func(j int) bool { return syms[j].addr > pc }) - 1
		if k < 0 {
			add("?", 0, v)
			continue
		}
		add(syms[k].name, pc-syms[k].addr, v)
	}
	for _, f := range byName {
		funcs = append(funcs, *f)
	}
	sort.Slice(funcs, func(i, j int) bool {
		if funcs[i].samples != funcs[j].samples {
			return funcs[i].samples > funcs[j].samples
		}
		return funcs[i].name < funcs[j].name
	})
	return total, funcs
}

// spin is -mode spin: a fixed user-mode loop, rounds of one write to each of 64 pages, until
// SIGTERM; then it prints how many rounds it made. Its rounds per CPU-second alone and while a
// method runs (-spin) show how much the emulation slows user code down while the kernel loads
// modules (each load changes kernel mappings, and an emulator may drop its translations of
// every CPU's user pages with them), apart from anything coldplug itself does.
func spin() {
	buf := make([]byte, 64<<12)
	var stopped atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGTERM)
	go func() { <-sig; stopped.Store(true) }()
	rounds := 0
	for !stopped.Load() {
		for range 64 {
			for p := 0; p < len(buf); p += 1 << 12 {
				buf[p]++
			}
		}
		rounds += 64
	}
	fmt.Println(rounds)
}

// spinProc is a running -mode spin child.
type spinProc struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

func startSpin() (*spinProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	// In a u-root busybox the binary picks its command by argv[0]: keep this one's.
	p := &spinProc{cmd: exec.Command(self, "-mode=spin", "-poweroff=false")}
	p.cmd.Args[0] = os.Args[0]
	p.cmd.Stdout = &p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// stop ends the child and returns its rounds per second of user CPU, and that user CPU.
func (p *spinProc) stop() (rate, user float64) {
	p.cmd.Process.Signal(unix.SIGTERM)
	p.cmd.Wait()
	rounds, err := strconv.ParseFloat(strings.TrimSpace(p.out.String()), 64)
	if err != nil {
		fmt.Printf("coldplugcheck: -spin: the spin loop printed %q, not its count of rounds (is %s this program?)\n", p.out.String(), os.Args[0])
	}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		user = time.Duration(ru.Utime.Nano()).Seconds()
	}
	if user > 0 {
		rate = rounds / user
	}
	return rate, user
}
