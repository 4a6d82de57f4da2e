//go:build !linux

package main

import (
	"errors"
	"time"

	"github.com/kmodboot/kmodboot/pkg/coldplug"
)

func listen() (coldplug.EventSource, func() any, error) {
	return nil, nil, errors.New("uevents are a Linux facility")
}

func cpuTimes() cpuSnapshot {
	var c cpuSnapshot
	c.GCCycles, c.HeapAllocs = gcStats()
	return c
}
func processCPU() cpuSnapshot { return cpuSnapshot{} }

func uptime(root string) time.Duration { return 0 }
