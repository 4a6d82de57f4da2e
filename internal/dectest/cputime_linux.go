package dectest

import (
	"syscall"
	"time"
)

// ThreadCPU returns the CPU time the calling OS thread has used, which the benchmarks report
// beside wall time: on a machine shared with other work, wall time mostly measures the others.
func ThreadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
