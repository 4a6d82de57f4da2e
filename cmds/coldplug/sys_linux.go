package main

import (
	"os"
	"path/filepath"
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

// cpuTimes returns the process's user and system CPU time so far.
func cpuTimes() [2]time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return [2]time.Duration{}
	}
	return [2]time.Duration{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
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
