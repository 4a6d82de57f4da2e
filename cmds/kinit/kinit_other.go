//go:build !linux

package main

import (
	"io"
	"time"
)

// run explains that kinit only works on Linux and waits, as PID 1 must not exit.
func run(out io.Writer) {
	logf(out, "kinit runs only as PID 1 of a Linux initramfs")
	for {
		time.Sleep(time.Hour)
	}
}
