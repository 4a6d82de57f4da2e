package main

import (
	"time"

	"github.com/kmodboot/kmodboot/pkg/bootparam"
)

// coldplugArgs are the coldplug flags for a run bounded by timeout, from the kmodboot.*
// parameters in p (nil: none given).
func coldplugArgs(p *bootparam.Params, timeout time.Duration) []string {
	args := []string{"-timeout", timeout.String()}
	if p == nil {
		return args
	}
	if p.ColdplugVerbose {
		args = append(args, "-v")
	}
	if p.ColdplugCPUFeatures != "" {
		args = append(args, "-cpu-features", p.ColdplugCPUFeatures)
	}
	return args
}
