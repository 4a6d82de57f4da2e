package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kmodboot/kmodboot/pkg/coldplug"
	"github.com/kmodboot/kmodboot/pkg/uevent"
)

// listen opens the kernel's uevent socket.
func listen() (coldplug.EventSource, func() any, error) {
	c, err := uevent.Listen(uevent.Options{})
	if err != nil {
		return nil, nil, err
	}
	return c, func() any { return c.Stats() }, nil
}

// cpuTimes returns the process's user and system CPU time so far, and the part of it the Go
// runtime's monitor thread (sysmon) used.
func cpuTimes() cpuSnapshot {
	c := processCPU()
	c.Threads, c.MonitorUser, c.MonitorSystem = monitorThread("/proc/self/task")
	c.GCCycles, c.HeapAllocs = gcStats()
	return c
}

// processCPU returns the process's user and system CPU time so far, without the monitor
// thread's part (which takes a walk of /proc/self/task).
func processCPU() cpuSnapshot {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return cpuSnapshot{}
	}
	return cpuSnapshot{User: time.Duration(ru.Utime.Nano()), System: time.Duration(ru.Stime.Nano())}
}

// monitorThread counts the threads in task (a /proc/PID/task directory) and returns the user
// and system CPU time of the runtime's monitor thread: the first thread the process created,
// which is the one with the lowest thread id after the main thread's (the runtime starts
// sysmon before anything else runs). Times are in the kernel's clock ticks (10 ms).
func monitorThread(task string) (threads int, user, system time.Duration) {
	ents, err := os.ReadDir(task)
	if err != nil {
		return 0, 0, 0
	}
	var tids []int
	for _, e := range ents {
		if id, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, id)
		}
	}
	slices.Sort(tids)
	if len(tids) < 2 {
		return len(tids), 0, 0
	}
	b, err := os.ReadFile(filepath.Join(task, strconv.Itoa(tids[1]), "stat"))
	if err != nil {
		return len(tids), 0, 0
	}
	// "TID (COMM) STATE PPID ...": utime and stime are fields 14 and 15, the 12th and 13th
	// after the command name (which may hold spaces and parentheses).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return len(tids), 0, 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return len(tids), 0, 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return len(tids), time.Duration(ut) * tick, time.Duration(st) * tick
}

// uptime returns the time since boot (CLOCK_BOOTTIME, which /proc/uptime shows in
// hundredths of a second) when root is /, else the first field of <root>/proc/uptime, or 0.
func uptime(root string) time.Duration {
	if filepath.Clean(root) == "/" {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err == nil {
			return time.Duration(ts.Nano())
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "proc/uptime"))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}
