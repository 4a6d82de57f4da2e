//go:build !linux

package dectest

import "time"

// ThreadCPU is only available on Linux.
func ThreadCPU() (time.Duration, bool) { return 0, false }
