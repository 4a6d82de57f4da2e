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

func cpuTimes() [2]time.Duration { return [2]time.Duration{} }

func uptime(root string) time.Duration { return 0 }
